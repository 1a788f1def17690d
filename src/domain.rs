//! Domain types. Each validates on construction, so a value of one of these types is known good.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{ApiError, ApiResult};

/// A shop's id: 2–63 chars of lowercase letters, digits and `-`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TenantId(String);

impl TenantId {
    pub fn parse(raw: &str) -> ApiResult<Self> {
        let ok = (2..=63).contains(&raw.len())
            && raw
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if ok {
            Ok(Self(raw.to_string()))
        } else {
            Err(ApiError::bad_request(
                "invalid_tenant_id",
                "tenant id must be 2-63 characters of lowercase letters, digits and '-'",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for TenantId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Florist,
    Manager,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    New,
    InProgress,
    Ready,
    OutForDelivery,
    Delivered,
    Cancelled,
}

impl OrderStatus {
    pub const ALL: [OrderStatus; 6] = [
        Self::New,
        Self::InProgress,
        Self::Ready,
        Self::OutForDelivery,
        Self::Delivered,
        Self::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::New => "new",
            Self::InProgress => "in_progress",
            Self::Ready => "ready",
            Self::OutForDelivery => "out_for_delivery",
            Self::Delivered => "delivered",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }

    /// The shop's workflow. Staying in the same status is always allowed (a no-op);
    /// `delivered` and `cancelled` are final.
    pub fn can_move_to(self, next: OrderStatus) -> bool {
        use OrderStatus::*;
        self == next
            || matches!(
                (self, next),
                (New, InProgress | Cancelled)
                    | (InProgress, New | Ready | Cancelled)
                    | (Ready, InProgress | OutForDelivery | Delivered | Cancelled)
                    | (OutForDelivery, Ready | Delivered)
            )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    pub title: String,
    pub quantity: u32,
}

pub const MAX_ITEMS: usize = 100;
/// The most of one item an order holds (the contract's `Item.quantity` maximum).
pub const MAX_QUANTITY: u32 = 10_000;
/// An order's serialized size is capped so one order cannot hold a poll, list or replay
/// hostage: its notes at most [`MAX_NOTES_BYTES`], everything else at most [`MAX_ORDER_REST_BYTES`].
pub const MAX_NOTES_BYTES: usize = 16 * 1024;
pub const MAX_ORDER_REST_BYTES: usize = 48 * 1024;
pub const MAX_NOTES: usize = 10_000;
pub const MAX_SHORT: usize = 200;
pub const MAX_TITLE: usize = 300;

/// An order as stored and as sent to clients.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Order {
    pub id: String,
    pub order_number: String,
    pub source: String,
    pub shopify_order_id: Option<String>,
    pub customer_name: String,
    pub customer_email: Option<String>,
    pub delivery_date: Option<String>,
    pub items: Vec<Item>,
    pub status: OrderStatus,
    pub assigned_to: Option<String>,
    pub notes: String,
    pub card_message: Option<String>,
    pub shopify_note: Option<String>,
    /// Shopify's `updated_at` of the last webhook applied (stale retries are refused by it).
    #[serde(skip)]
    pub shopify_updated_at: Option<String>,
    /// `X-Shopify-Triggered-At` of the webhook last applied (breaks `updated_at` ties).
    #[serde(skip)]
    pub shopify_triggered_at: Option<String>,
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
    pub updated_by: String,
    /// The live edit lease, if any (an expired lease reads as `None`).
    #[serde(default)]
    pub lock: Option<OrderLock>,
}

/// An edit lock (lease) as it appears on the order: who holds it, until when, and its fencing
/// token (`lockVersion` grows with every take).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderLock {
    pub holder: String,
    pub expires_at: String,
    pub lock_version: i64,
    /// When the current holder took it (shown by the lock routes, not on the order).
    #[serde(skip)]
    pub acquired_at: String,
}

impl OrderStatus {
    /// The statuses from which `self` may be reached (itself included): the status machine as a
    /// set, so a write can check the transition against the current status inside its batch.
    pub fn reachable_from(self) -> Vec<OrderStatus> {
        Self::ALL
            .into_iter()
            .filter(|from| from.can_move_to(self))
            .collect()
    }
}

impl Order {
    /// 422 `order_too_large` when the order (without its notes) would serialize to more than
    /// [`MAX_ORDER_REST_BYTES`], or its notes to more than [`MAX_NOTES_BYTES`].
    pub fn check_size(&self) -> ApiResult<()> {
        let rest = serde_json::to_string(&Order {
            notes: String::new(),
            ..self.clone()
        })
        .map(|s| s.len())
        .unwrap_or(usize::MAX);
        if rest > MAX_ORDER_REST_BYTES || self.notes.len() > MAX_NOTES_BYTES {
            return Err(ApiError::unprocessable(
                "order_too_large",
                "an order is at most 64 KB (notes 16 KB): shorten the items or notes",
            ));
        }
        Ok(())
    }
}

fn field_error(message: impl Into<String>) -> ApiError {
    ApiError::bad_request("invalid_field", message)
}

fn opt_string(obj: &Value, key: &str, max: usize) -> ApiResult<Option<String>> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.chars().count() <= max => Ok(Some(s.clone())),
        Some(Value::String(_)) => Err(field_error(format!(
            "{key} must be at most {max} characters"
        ))),
        Some(_) => Err(field_error(format!("{key} must be a string or null"))),
    }
}

fn required_string(obj: &Value, key: &str, max: usize) -> ApiResult<String> {
    match opt_string(obj, key, max)? {
        Some(s) if !s.trim().is_empty() => Ok(s),
        _ => Err(field_error(format!("{key} is required"))),
    }
}

/// `YYYY-MM-DD`, a real calendar date.
pub fn parse_date(raw: &str) -> Option<String> {
    parse_date_as(raw, "%Y-%m-%d")
        .filter(|_| raw.len() == 10)
        .map(format_date)
}

/// A date as chrono's `%Y-%m-%d` writes it (a year outside 0–9999 gets a sign and 4+ digits).
/// Written here rather than with `format()`, whose general strftime formatter (and through it
/// the Unicode lowercase table) is most of chrono's share of the Wasm (issue #14).
pub fn format_date(date: chrono::NaiveDate) -> String {
    use chrono::Datelike;
    let (year, month, day) = (date.year(), date.month(), date.day());
    if (0..=9999).contains(&year) {
        format!("{year:04}-{month:02}-{day:02}")
    } else {
        format!("{year:+05}-{month:02}-{day:02}")
    }
}

/// The written-out date formats [`parse_date_as`] is used with (a Shopify delivery date in the
/// order's attributes, `src/shopify.rs`), besides `%Y-%m-%d`.
pub const NAMED_DATE_FORMATS: [&str; 7] = [
    "%B %d, %Y",
    "%b %d, %Y",
    "%A, %B %d, %Y",
    "%a, %b %d, %Y",
    "%d %B %Y",
    "%d %b %Y",
    "%A %d %B %Y",
];

/// `value` read with a date `format` of chrono's `%` syntax, exactly as chrono's
/// `NaiveDate::parse_from_str` reads it, for the specifiers the API's formats use: `%Y` (up to 4
/// digits, or a sign and any digits), `%m` and `%d` (1–2 digits), `%b`/`%a` (the first three
/// letters of an English month/weekday name, any case), `%B`/`%A` (the same, then the rest of
/// that name if it follows). Numbers may follow whitespace; whitespace in the format matches
/// any run of whitespace, also none; any other character matches itself; nothing may be left
/// over; a weekday must be the date's. Written here because chrono's general strftime parser
/// was 24 KB of the Wasm (issue #14); a unit test holds the two against each other.
pub fn parse_date_as(value: &str, format: &str) -> Option<chrono::NaiveDate> {
    use chrono::Datelike;
    const MONTHS: [&str; 12] = [
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ];
    const WEEKDAYS: [&str; 7] = [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ];
    // Up to `max` ASCII digits, at least one.
    fn digits(s: &str, max: usize) -> Option<(&str, i64)> {
        let n = s.bytes().take(max).take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return None;
        }
        let v = s.as_bytes()[..n].iter().try_fold(0i64, |v, b| {
            v.checked_mul(10)?.checked_add(i64::from(b - b'0'))
        })?;
        Some((&s[n..], v))
    }
    // A name's first three letters (its index), then the rest of it when `long` and it follows.
    fn name<'a>(s: &'a str, names: &[&str], long: bool) -> Option<(&'a str, usize)> {
        let head = s.as_bytes().get(..3)?;
        let at = names
            .iter()
            .position(|n| head.eq_ignore_ascii_case(&n.as_bytes()[..3]))?;
        let rest = &names[at].as_bytes()[3..];
        match s.as_bytes().get(3..3 + rest.len()) {
            Some(next) if long && next.eq_ignore_ascii_case(rest) => {
                Some((&s[3 + rest.len()..], at))
            }
            _ => Some((&s[3..], at)),
        }
    }
    let (mut year, mut month, mut day, mut weekday) = (None, None, None, None);
    let mut s = value;
    let mut spec = format.chars();
    while let Some(c) = spec.next() {
        if c.is_whitespace() {
            s = s.trim_start();
            continue;
        }
        if c != '%' {
            s = s.strip_prefix(c)?;
            continue;
        }
        match spec.next()? {
            'Y' => {
                s = s.trim_start();
                let (rest, v) = if let Some(r) = s.strip_prefix('-') {
                    let (r, v) = digits(r, usize::MAX)?;
                    (r, v.checked_neg()?)
                } else if let Some(r) = s.strip_prefix('+') {
                    digits(r, usize::MAX)?
                } else {
                    digits(s, 4)?
                };
                s = rest;
                year = Some(i32::try_from(v).ok()?);
            }
            which @ ('m' | 'd') => {
                let (rest, v) = digits(s.trim_start(), 2)?;
                s = rest;
                let v = u32::try_from(v).ok()?;
                if which == 'm' {
                    month = Some(v);
                } else {
                    day = Some(v);
                }
            }
            which @ ('b' | 'B') => {
                let (rest, at) = name(s, &MONTHS, which == 'B')?;
                s = rest;
                month = Some(at as u32 + 1);
            }
            which @ ('a' | 'A') => {
                let (rest, at) = name(s, &WEEKDAYS, which == 'A')?;
                s = rest;
                weekday = Some(at as u32);
            }
            _ => return None,
        }
    }
    if !s.is_empty() {
        return None;
    }
    let date = chrono::NaiveDate::from_ymd_opt(year?, month?, day?)?;
    weekday
        .is_none_or(|w| w == date.weekday().num_days_from_monday())
        .then_some(date)
}

fn parse_items(obj: &Value) -> ApiResult<Vec<Item>> {
    let Some(Value::Array(raw)) = obj.get("items") else {
        return Err(field_error("items must be a list of {title, quantity}"));
    };
    if raw.is_empty() || raw.len() > MAX_ITEMS {
        return Err(field_error(format!(
            "an order has between 1 and {MAX_ITEMS} items"
        )));
    }
    raw.iter()
        .map(|item| {
            let title = required_string(item, "title", MAX_TITLE)
                .map_err(|_| field_error("each item needs a title (at most 300 characters)"))?;
            let quantity = item
                .get("quantity")
                .and_then(Value::as_u64)
                .filter(|q| (1..=u64::from(MAX_QUANTITY)).contains(q))
                .ok_or_else(|| {
                    field_error(format!(
                        "each item needs a quantity between 1 and {MAX_QUANTITY}"
                    ))
                })?;
            Ok(Item {
                title,
                quantity: quantity as u32,
            })
        })
        .collect()
}

/// A hand-entered order, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct NewOrder {
    pub order_number: Option<String>,
    pub customer_name: String,
    pub customer_email: Option<String>,
    pub delivery_date: Option<String>,
    pub items: Vec<Item>,
    pub notes: String,
    pub card_message: Option<String>,
    pub assigned_to: Option<String>,
}

impl TryFrom<&Value> for NewOrder {
    type Error = ApiError;

    fn try_from(body: &Value) -> ApiResult<Self> {
        if !body.is_object() {
            return Err(ApiError::bad_request(
                "invalid_body",
                "the body must be a JSON object",
            ));
        }
        let customer_email = opt_string(body, "customerEmail", MAX_SHORT)?;
        if let Some(email) = &customer_email {
            if !email.contains('@') {
                return Err(field_error("customerEmail must be an email address"));
            }
        }
        let delivery_date = match opt_string(body, "deliveryDate", 10)? {
            None => None,
            Some(raw) => Some(
                parse_date(&raw).ok_or_else(|| field_error("deliveryDate must be YYYY-MM-DD"))?,
            ),
        };
        Ok(Self {
            order_number: opt_string(body, "orderNumber", 64)?.filter(|s| !s.trim().is_empty()),
            customer_name: required_string(body, "customerName", MAX_SHORT)?,
            customer_email,
            delivery_date,
            items: parse_items(body)?,
            notes: opt_string(body, "notes", MAX_NOTES)?.unwrap_or_default(),
            card_message: opt_string(body, "cardMessage", 2_000)?,
            assigned_to: opt_string(body, "assignedTo", MAX_SHORT)?,
        })
    }
}

/// The fields a florist may change with `PUT`. `None` = not mentioned; for `assigned_to`,
/// `Some(None)` = unassign.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct OrderPatch {
    pub status: Option<OrderStatus>,
    pub assigned_to: Option<Option<String>>,
    pub notes: Option<String>,
}

impl TryFrom<&Value> for OrderPatch {
    type Error = ApiError;

    fn try_from(body: &Value) -> ApiResult<Self> {
        if !body.is_object() {
            return Err(ApiError::bad_request(
                "invalid_body",
                "the body must be a JSON object",
            ));
        }
        let status = match body.get("status") {
            None => None,
            Some(Value::String(s)) => Some(OrderStatus::parse(s).ok_or_else(|| {
                ApiError::unprocessable(
                    "invalid_status",
                    format!(
                        "unknown status '{s}'; one of new, in_progress, ready, out_for_delivery, delivered, cancelled"
                    ),
                )
            })?),
            Some(_) => {
                return Err(ApiError::unprocessable(
                    "invalid_status",
                    "status must be a string",
                ))
            }
        };
        let assigned_to = match body.get("assignedTo") {
            None => None,
            Some(_) => {
                Some(opt_string(body, "assignedTo", MAX_SHORT)?.filter(|s| !s.trim().is_empty()))
            }
        };
        let notes = match body.get("notes") {
            None => None,
            Some(Value::String(s))
                if s.chars().count() <= MAX_NOTES && s.len() <= MAX_NOTES_BYTES =>
            {
                Some(s.clone())
            }
            Some(Value::String(_)) => {
                return Err(field_error(format!(
                    "notes must be at most {MAX_NOTES} characters and {MAX_NOTES_BYTES} bytes"
                )))
            }
            Some(_) => return Err(field_error("notes must be a string")),
        };
        let patch = Self {
            status,
            assigned_to,
            notes,
        };
        if patch == Self::default() {
            return Err(ApiError::bad_request(
                "empty_update",
                "send at least one of status, assignedTo, notes",
            ));
        }
        Ok(patch)
    }
}

impl OrderPatch {
    /// Applies the patch to `order`, returning the names of the fields that changed.
    /// A forbidden status transition is refused with 422 and changes nothing.
    pub fn apply(&self, order: &mut Order) -> ApiResult<Vec<&'static str>> {
        let mut changes = Vec::new();
        if let Some(next) = self.status {
            if !order.status.can_move_to(next) {
                return Err(ApiError::unprocessable(
                    "invalid_transition",
                    format!(
                        "an order cannot move from {} to {}",
                        order.status.as_str(),
                        next.as_str()
                    ),
                ));
            }
            if order.status != next {
                order.status = next;
                changes.push("status");
            }
        }
        if let Some(assigned) = &self.assigned_to {
            if &order.assigned_to != assigned {
                order.assigned_to = assigned.clone();
                changes.push("assignedTo");
            }
        }
        if let Some(notes) = &self.notes {
            if &order.notes != notes {
                order.notes = notes.clone();
                changes.push("notes");
            }
        }
        Ok(changes)
    }
}

/// RFC 3339 UTC with milliseconds, e.g. `2026-11-24T10:00:00.000Z`: sorts as text in time order.
pub fn format_timestamp(millis: i64) -> String {
    use chrono::Timelike;
    let at = chrono::DateTime::from_timestamp_millis(millis)
        .unwrap_or_default()
        .naive_utc();
    let (hour, minute, second) = (at.hour(), at.minute(), at.second());
    // `%.3f`: the milliseconds of the second (a leap second's nanoseconds run past 10^9).
    let milli = at.nanosecond() % 1_000_000_000 / 1_000_000;
    format!(
        "{}T{hour:02}:{minute:02}:{second:02}.{milli:03}Z",
        format_date(at.date())
    )
}

/// Parses any RFC 3339 timestamp into the canonical form of [`format_timestamp`].
pub fn normalize_timestamp(raw: &str) -> Option<String> {
    chrono::DateTime::parse_from_rfc3339(raw)
        .ok()
        .map(|t| format_timestamp(t.timestamp_millis()))
}

/// An order for unit tests (here and in [`crate::collab`]).
#[cfg(test)]
pub(crate) fn sample_order() -> Order {
    Order {
        id: "o1".into(),
        order_number: "#1001".into(),
        source: "manual".into(),
        shopify_order_id: None,
        customer_name: "Ada".into(),
        customer_email: None,
        delivery_date: None,
        items: vec![Item {
            title: "Roses".into(),
            quantity: 12,
        }],
        status: OrderStatus::New,
        assigned_to: None,
        notes: String::new(),
        card_message: None,
        shopify_note: None,
        shopify_updated_at: None,
        shopify_triggered_at: None,
        version: 1,
        created_at: "2026-11-24T10:00:00.000Z".into(),
        updated_at: "2026-11-24T10:00:00.000Z".into(),
        updated_by: "florist-1".into(),
        lock: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_parsed_as_chrono_parses_them() {
        let inputs = [
            "2026-11-25",
            "2026-1-5",
            " 2026- 1-05",
            "+2026-11-25",
            "-0001-03-01",
            "+12026-01-01",
            "12026-01-01",
            "2026-13-01",
            "2026-02-29",
            "2024-02-29",
            "2026-11-25x",
            "2026-11-25 ",
            "2026-11-031",
            "0000-01-01",
            "99999999999-01-01",
            "+99999999999999999999-01-01",
            "2026-11",
            "",
            " ",
            "2026‐11‐25",
            "٢٠٢٦-11-25",
            "2026-11-2\u{3000}",
            "November 25, 2026",
            "november 25,2026",
            "NOV 25, 2026",
            "Nov 25, 2026",
            "Nov25, 2026",
            "Novem 25, 2026",
            "November  25 ,2026",
            "Sept 25, 2026",
            "Sep 25, 2026",
            "September 5, 2026",
            "May 1, 2026",
            "Mayday 1, 2026",
            "Nov 25, 26",
            "Nov 25 2026",
            "Wednesday, November 25, 2026",
            "Thursday, November 25, 2026",
            "wed, nov 25, 2026",
            "Wed, Nov 25, 2026",
            "Wednes, Nov 25, 2026",
            "Wed, November 25, 2026",
            "25 November 2026",
            "25 Nov 2026",
            "25November2026",
            "5 nov 2026",
            "025 Nov 2026",
            "Wednesday 25 November 2026",
            "Wed 25 Nov 2026",
            "Tuesday 25 November 2026",
            "25 Nov 2026 ",
            " 25 Nov 2026",
            "25 Növ 2026",
            "Ñov 25, 2026",
            "Nov 25, 2026\u{a0}",
            "Nov\u{2003}25,\u{2003}2026",
            "Nov 31, 2026",
            "Feb 30, 2026",
            "Nov 0, 2026",
            "Nov 25, +2026",
            "Nov 25, -44",
            "Nov 25, 20265",
            "Nov 25, 2026-",
            "Nov 25,\t2026",
        ];
        for format in std::iter::once("%Y-%m-%d").chain(NAMED_DATE_FORMATS) {
            for input in inputs {
                assert_eq!(
                    parse_date_as(input, format),
                    chrono::NaiveDate::parse_from_str(input, format).ok(),
                    "{input:?} as {format:?}"
                );
            }
        }
    }

    #[test]
    fn dates_and_timestamps_are_written_as_chrono_writes_them() {
        use chrono::NaiveDate;
        for (y, m, d) in [
            (2026, 11, 25),
            (1, 1, 1),
            (0, 2, 29),
            (9999, 12, 31),
            (10000, 1, 1),
            (-1, 3, 4),
        ] {
            let date = NaiveDate::from_ymd_opt(y, m, d).expect("a date");
            assert_eq!(format_date(date), date.format("%Y-%m-%d").to_string());
        }
        for millis in [
            0,
            1,
            999,
            1_764_064_800_123,
            -1,
            -62_135_596_800_000,
            253_402_300_799_999,
            300_000_000_000_000,
            i64::MAX,
        ] {
            let chrono = chrono::DateTime::from_timestamp_millis(millis)
                .unwrap_or_default()
                .format("%Y-%m-%dT%H:%M:%S%.3fZ")
                .to_string();
            assert_eq!(format_timestamp(millis), chrono, "{millis}");
        }
    }
    use serde_json::json;

    fn order() -> Order {
        sample_order()
    }

    #[test]
    fn tenant_ids_follow_the_documented_shape() {
        assert!(TenantId::parse("demo").is_ok());
        assert!(TenantId::parse("rose-garden-2").is_ok());
        assert!(TenantId::parse("a").is_err());
        assert!(TenantId::parse("Demo").is_err());
        assert!(TenantId::parse("a_b").is_err());
        assert!(TenantId::parse(&"a".repeat(64)).is_err());
        assert!(TenantId::parse(&"a".repeat(63)).is_ok());
    }

    #[test]
    fn reachable_from_is_the_status_machine_read_backwards() {
        use OrderStatus::*;
        assert_eq!(InProgress.reachable_from(), vec![New, InProgress, Ready]);
        assert_eq!(New.reachable_from(), vec![New, InProgress]);
        for to in OrderStatus::ALL {
            for from in OrderStatus::ALL {
                assert_eq!(to.reachable_from().contains(&from), from.can_move_to(to));
            }
        }
    }

    #[test]
    fn the_status_machine_allows_the_workflow_and_refuses_skips() {
        use OrderStatus::*;
        assert!(New.can_move_to(InProgress));
        assert!(InProgress.can_move_to(Ready));
        assert!(Ready.can_move_to(OutForDelivery));
        assert!(OutForDelivery.can_move_to(Delivered));
        assert!(New.can_move_to(Cancelled));
        assert!(!New.can_move_to(Delivered));
        assert!(!Delivered.can_move_to(New));
        assert!(!Cancelled.can_move_to(InProgress));
        assert!(Delivered.can_move_to(Delivered));
    }

    #[test]
    fn a_patch_reports_only_the_fields_it_changed() {
        let mut o = order();
        let patch = OrderPatch::try_from(&json!({
            "status": "in_progress", "assignedTo": "florist-2", "notes": ""
        }))
        .unwrap();
        assert_eq!(patch.apply(&mut o).unwrap(), vec!["status", "assignedTo"]);
        assert_eq!(o.status, OrderStatus::InProgress);
        assert_eq!(o.assigned_to.as_deref(), Some("florist-2"));
    }

    #[test]
    fn a_forbidden_transition_is_422_and_leaves_the_order_alone() {
        let mut o = order();
        let patch = OrderPatch::try_from(&json!({"status": "delivered", "notes": "x"})).unwrap();
        let err = patch.apply(&mut o).unwrap_err();
        assert_eq!(err.status(), 422);
        assert_eq!(o, order());
    }

    #[test]
    fn unknown_status_is_422_and_empty_patch_is_400() {
        assert_eq!(
            OrderPatch::try_from(&json!({"status": "wilted"}))
                .unwrap_err()
                .status(),
            422
        );
        assert_eq!(OrderPatch::try_from(&json!({})).unwrap_err().status(), 400);
        assert_eq!(
            OrderPatch::try_from(&json!({"updatedBy": "mallory"}))
                .unwrap_err()
                .status(),
            400
        );
    }

    #[test]
    fn null_assignee_unassigns() {
        let mut o = order();
        o.assigned_to = Some("florist-1".into());
        let patch = OrderPatch::try_from(&json!({"assignedTo": null})).unwrap();
        assert_eq!(patch.apply(&mut o).unwrap(), vec!["assignedTo"]);
        assert_eq!(o.assigned_to, None);
    }

    #[test]
    fn new_orders_need_a_customer_and_items() {
        let ok = NewOrder::try_from(&json!({
            "customerName": "Ada \"Lovelace\" 🌹\nline two",
            "items": [{"title": "Roses'); DROP TABLE orders;--", "quantity": 3}],
            "deliveryDate": "2026-11-26"
        }))
        .unwrap();
        assert_eq!(ok.customer_name, "Ada \"Lovelace\" 🌹\nline two");
        assert_eq!(ok.delivery_date.as_deref(), Some("2026-11-26"));
        for bad in [
            json!({"items": [{"title": "x", "quantity": 1}]}),
            json!({"customerName": "Ada", "items": []}),
            json!({"customerName": "Ada", "items": [{"title": "x", "quantity": 0}]}),
            json!({"customerName": "Ada", "items": [{"title": "x", "quantity": 1}], "deliveryDate": "2026-02-30"}),
            json!({"customerName": "Ada", "items": [{"title": "x", "quantity": 1}], "customerEmail": "nope"}),
            json!([1, 2]),
        ] {
            assert_eq!(NewOrder::try_from(&bad).unwrap_err().status(), 400, "{bad}");
        }
    }

    #[test]
    fn an_order_is_capped_at_64_kb() {
        let mut o = order();
        assert!(o.check_size().is_ok());
        o.notes = "🌹".repeat(4096); // 16 KB exactly
        assert!(o.check_size().is_ok());
        o.notes.push('x');
        assert_eq!(o.check_size().unwrap_err().status(), 422);
        o.notes.clear();
        o.items = (0..100)
            .map(|_| Item {
                title: "🌷".repeat(300),
                quantity: 1,
            })
            .collect();
        assert_eq!(o.check_size().unwrap_err().status(), 422);
    }

    #[test]
    fn timestamps_are_canonical_utc_with_millis() {
        assert_eq!(format_timestamp(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            normalize_timestamp("2026-11-24T09:15:00-05:00").as_deref(),
            Some("2026-11-24T14:15:00.000Z")
        );
        assert_eq!(normalize_timestamp("yesterday"), None);
    }
}
