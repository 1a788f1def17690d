//! Shopify webhook intake, the pure part: signature check, topic, payload mapping and the
//! update decision for `POST /api/webhooks/shopify`. No I/O; the Worker shell calls these.
//!
//! Decisions worth knowing when wiring the shell:
//! - `verify_hmac` must run on the raw body before anything is parsed. An empty secret never
//!   verifies, so a missing `SHOPIFY_WEBHOOK_SECRET` cannot turn into "anyone may sign".
//! - `orders/edited` does not carry an order: its body is `{"order_edit": {"order_id": …, …}}`
//!   (what was added/removed). Shopify sends `orders/updated` with the full order for the same
//!   edit, so the shell should read the id with [`parse_edited_order_id`], answer 200 and change
//!   nothing. [`parse_order`] refuses an `order_edit` body with a message saying so.
//! - Shopify retries with the original payload and does not keep order, so [`diff_update`] refuses
//!   payloads older than the stored `updated_at` and compares only Shopify-owned fields.
//!   Florist-owned fields (`status` except cancellation, `assignedTo`, `notes`) are not even inputs.
//! - Quantities come from `current_quantity` (ordered minus removed by edits or refunds) when
//!   present, else `quantity`; zero-quantity lines are dropped. A cancelled order keeps its ordered
//!   quantities, because cancelling with restock zeroes `current_quantity` and the florist still
//!   needs to see what the cancelled order was.
//! - The delivery date and card message are looked up in `note_attributes` first, then in line
//!   item `properties` (where many florist storefront apps put them), by name compared
//!   case-insensitively with separators ignored ("Delivery Date" = "delivery_date" = "Delivery-Date").

use std::fmt;

use base64::{engine::general_purpose::STANDARD, Engine as _};
use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::Sha256;

use crate::domain::MAX_QUANTITY;

type HmacSha256 = Hmac<Sha256>;
type Object = Map<String, Value>;

/// Longest kept order number, in chars.
const ORDER_NUMBER_MAX: usize = 64;
/// Longest kept customer name, in chars.
const CUSTOMER_NAME_MAX: usize = 200;
/// Longest email kept; longer ones are treated as absent rather than cut into a wrong address
/// (254 is the longest address SMTP can carry, RFC 5321 §4.5.3.1).
const EMAIL_MAX: usize = 254;
/// Longest kept line item title, in chars.
const TITLE_MAX: usize = 300;
/// Longest kept Shopify note and card message, in chars.
const NOTE_MAX: usize = 2000;

/// Attribute names (normalised by [`attribute_key`]) that hold the delivery date.
const DELIVERY_DATE_KEYS: &[&str] = &["deliverydate", "deliveryday"];
/// Attribute names (normalised by [`attribute_key`]) that hold the card message.
const CARD_MESSAGE_KEYS: &[&str] = &[
    "cardmessage",
    "giftmessage",
    "cardnote",
    "giftnote",
    "cardtext",
];

/// The variant title Shopify gives products without variants; not worth showing.
const DEFAULT_VARIANT_TITLE: &str = "Default Title";
/// Customer name when the payload names nobody (no customer, addresses or email).
const UNKNOWN_CUSTOMER: &str = "Shopify customer";

/// True when `header_b64` is the base64 HMAC-SHA256 of `raw_body` under `secret`.
/// Missing, undecodable or wrong headers and an empty secret give false. The comparison is
/// constant-time (`verify_slice`); only the length of the decoded header can end it early.
pub fn verify_hmac(secret: &[u8], raw_body: &[u8], header_b64: Option<&str>) -> bool {
    if secret.is_empty() {
        return false;
    }
    let Some(header) = header_b64 else {
        return false;
    };
    let Ok(claimed) = STANDARD.decode(header.trim()) else {
        return false;
    };
    let Some(mut mac) = new_mac(secret) else {
        return false;
    };
    mac.update(raw_body);
    mac.verify_slice(&claimed).is_ok()
}

/// Base64 HMAC-SHA256 of `raw_body` under `secret`, as Shopify puts in `X-Shopify-Hmac-Sha256`.
pub fn sign(secret: &[u8], raw_body: &[u8]) -> String {
    match new_mac(secret) {
        Some(mut mac) => {
            mac.update(raw_body);
            STANDARD.encode(mac.finalize().into_bytes())
        }
        // HMAC takes keys of any length, so this arm is unreachable; an empty string never verifies.
        None => String::new(),
    }
}

fn new_mac(secret: &[u8]) -> Option<HmacSha256> {
    <HmacSha256 as Mac>::new_from_slice(secret).ok()
}

/// The `X-Shopify-Topic` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Topic {
    OrdersCreate,
    OrdersUpdated,
    OrdersEdited,
    OrdersCancelled,
    OrdersDelete,
    /// Any topic this service does not handle: answer 200, log, ignore.
    Other(String),
}

impl Topic {
    pub fn parse(s: &str) -> Topic {
        match s.trim() {
            "orders/create" => Topic::OrdersCreate,
            "orders/updated" => Topic::OrdersUpdated,
            "orders/edited" => Topic::OrdersEdited,
            "orders/cancelled" => Topic::OrdersCancelled,
            "orders/delete" => Topic::OrdersDelete,
            other => Topic::Other(other.to_owned()),
        }
    }

    /// The topic as Shopify spells it, for logs.
    pub fn as_str(&self) -> &str {
        match self {
            Topic::OrdersCreate => "orders/create",
            Topic::OrdersUpdated => "orders/updated",
            Topic::OrdersEdited => "orders/edited",
            Topic::OrdersCancelled => "orders/cancelled",
            Topic::OrdersDelete => "orders/delete",
            Topic::Other(other) => other,
        }
    }
}

impl fmt::Display for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One line of an order as the board shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Item {
    pub title: String,
    pub quantity: u32,
}

/// Shopify-owned fields of an order, as mapped from a payload by [`parse_order`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShopifyOrder {
    /// Shopify's numeric `id` as a decimal string.
    pub shopify_order_id: String,
    /// `name`, e.g. "#1001" (else "#" + `order_number`).
    pub order_number: String,
    /// Customer first+last, else shipping name, else billing name, else email, else "Shopify customer".
    pub customer_name: String,
    /// `email`, else `contact_email`, else `customer.email`.
    pub customer_email: Option<String>,
    /// YYYY-MM-DD from a "Delivery Date" attribute; None when absent or unreadable.
    pub delivery_date: Option<String>,
    /// From a "Card Message" / "Gift message" attribute.
    pub card_message: Option<String>,
    /// The order `note` written at checkout; kept apart from the florists' own `notes`.
    pub shopify_note: Option<String>,
    pub items: Vec<Item>,
    /// `updated_at` in RFC 3339 UTC with millis, so string order is time order.
    pub updated_at: Option<String>,
    /// `cancelled_at` is set.
    pub cancelled: bool,
    /// The delivery's `X-Shopify-Triggered-At` (set by the shell from the header): breaks a tie
    /// between two payloads with the same `updated_at`.
    pub triggered_at: Option<String>,
}

/// Why a payload with a valid signature cannot be used (answer 400).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MapError {
    /// Human-readable description of what is wrong, e.g. "missing field id".
    Malformed(String),
}

impl fmt::Display for MapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MapError::Malformed(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for MapError {}

impl From<serde_json::Error> for MapError {
    fn from(error: serde_json::Error) -> Self {
        malformed(format!("body is not valid JSON: {error}"))
    }
}

fn malformed(message: impl Into<String>) -> MapError {
    MapError::Malformed(message.into())
}

/// Maps an `orders/create`, `orders/updated` or `orders/cancelled` body (the REST order resource).
pub fn parse_order(raw_body: &[u8]) -> Result<ShopifyOrder, MapError> {
    let order = parse_object(raw_body)?;
    if !order.contains_key("id") && order.contains_key("order_edit") {
        return Err(malformed(
            "payload is an order_edit, not an order (orders/edited); the updated order arrives as orders/updated",
        ));
    }
    let shopify_order_id = positive_id(order.get("id"), "id")?;
    let order_number = order_number(&order)?;
    let customer_email = customer_email(&order)?;
    let customer_name = customer_name(&order, customer_email.as_deref())?;
    let cancelled = text(&order, "", "cancelled_at")?.is_some();
    let items = items(&order, cancelled)?;
    let delivery_date = attribute(&order, DELIVERY_DATE_KEYS)?
        .and_then(parse_delivery_date)
        .map(crate::domain::format_date);
    let card_message = attribute(&order, CARD_MESSAGE_KEYS)?.map(|message| clip(message, NOTE_MAX));
    let shopify_note = text(&order, "", "note")?.map(|note| clip(note, NOTE_MAX));
    let updated_at = updated_at(&order)?;
    Ok(ShopifyOrder {
        shopify_order_id,
        order_number,
        customer_name,
        customer_email,
        delivery_date,
        card_message,
        shopify_note,
        items,
        updated_at,
        cancelled,
        triggered_at: None,
    })
}

/// Fields only a full order carries: an `orders/delete` body with any of them is an order body
/// replayed under the wrong topic.
const ORDER_ONLY_FIELDS: [&str; 7] = [
    "line_items",
    "created_at",
    "customer",
    "email",
    "name",
    "order_number",
    "total_price",
];

/// The order id of an `orders/delete` body, which is just `{"id": 450789469}` (Shopify may add
/// `admin_graphql_api_id`); a full order body is refused.
pub fn parse_deleted_id(raw_body: &[u8]) -> Result<String, MapError> {
    let body = parse_object(raw_body)?;
    if let Some(field) = ORDER_ONLY_FIELDS.iter().find(|f| body.contains_key(**f)) {
        return Err(malformed(format!(
            "an orders/delete body carries only the order id, not {field}"
        )));
    }
    positive_id(body.get("id"), "id")
}

/// The order id of an `orders/edited` body, `{"order_edit": {"order_id": 450789469, …}}`.
pub fn parse_edited_order_id(raw_body: &[u8]) -> Result<String, MapError> {
    let body = parse_object(raw_body)?;
    let edit =
        object(&body, "", "order_edit")?.ok_or_else(|| malformed("missing field order_edit"))?;
    positive_id(edit.get("order_id"), "order_edit.order_id")
}

/// Shopify-owned fields of a stored order, as the shell read them, for [`diff_update`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StoredShopifyFields {
    pub order_number: String,
    pub customer_name: String,
    pub customer_email: Option<String>,
    pub delivery_date: Option<String>,
    pub card_message: Option<String>,
    pub shopify_note: Option<String>,
    pub items: Vec<Item>,
    /// The `updated_at` of the last payload applied, as [`ShopifyOrder::updated_at`].
    pub shopify_updated_at: Option<String>,
    /// The `X-Shopify-Triggered-At` of the last payload applied.
    pub shopify_triggered_at: Option<String>,
    pub status_is_cancelled: bool,
    /// A delivered order is never cancelled by Shopify (the refusal is logged instead).
    pub status_is_delivered: bool,
}

impl From<&ShopifyOrder> for StoredShopifyFields {
    /// What the shell stores when it creates an order from `order`.
    fn from(order: &ShopifyOrder) -> Self {
        StoredShopifyFields {
            order_number: order.order_number.clone(),
            customer_name: order.customer_name.clone(),
            customer_email: order.customer_email.clone(),
            delivery_date: order.delivery_date.clone(),
            card_message: order.card_message.clone(),
            shopify_note: order.shopify_note.clone(),
            items: order.items.clone(),
            shopify_updated_at: order.updated_at.clone(),
            shopify_triggered_at: order.triggered_at.clone(),
            status_is_cancelled: order.cancelled,
            status_is_delivered: false,
        }
    }
}

/// What a webhook does to a stored order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpdateDecision {
    /// The payload is older than the one already applied (a retry or out-of-order delivery):
    /// change nothing, emit nothing.
    Stale,
    /// Nothing Shopify-owned differs: emit nothing and keep `version`. The shell may still record
    /// `incoming.updated_at` (when present): a decision other than `Stale` means it is not older,
    /// and recording it keeps a later-arriving older payload from being applied.
    NoChange,
    /// Write the Shopify-owned fields from the payload and `shopify_updated_at`; set status to
    /// `cancelled` when `cancel`. `changes` are the camelCase names for the `order_updated` event.
    Apply {
        changes: Vec<&'static str>,
        cancel: bool,
    },
    /// The payload cancels an order that was already delivered: the cancellation is refused
    /// (and logged); `changes` are the other Shopify fields to write (maybe none).
    CancelRefused { changes: Vec<&'static str> },
}

/// Decides what `incoming` does to `stored`. Only Shopify-owned fields are compared; `status`
/// changes only by cancellation (the payload's `cancelled_at`, or the `orders/cancelled` topic).
pub fn diff_update(
    stored: &StoredShopifyFields,
    incoming: &ShopifyOrder,
    is_cancel_topic: bool,
) -> UpdateDecision {
    if let (Some(stored_at), Some(incoming_at)) = (&stored.shopify_updated_at, &incoming.updated_at)
    {
        match compare_instants(incoming_at, stored_at) {
            std::cmp::Ordering::Less => return UpdateDecision::Stale,
            // The same instant is not newer, unless the trigger time says it is.
            std::cmp::Ordering::Equal => {
                let newer = matches!(
                    (&incoming.triggered_at, &stored.shopify_triggered_at),
                    (Some(i), Some(s)) if compare_instants(i, s).is_gt()
                );
                if !newer {
                    return UpdateDecision::Stale;
                }
            }
            std::cmp::Ordering::Greater => {}
        }
    }
    let mut changes = Vec::new();
    if stored.order_number != incoming.order_number {
        changes.push("orderNumber");
    }
    if stored.customer_name != incoming.customer_name {
        changes.push("customerName");
    }
    if stored.customer_email != incoming.customer_email {
        changes.push("customerEmail");
    }
    if stored.delivery_date != incoming.delivery_date {
        changes.push("deliveryDate");
    }
    if stored.card_message != incoming.card_message {
        changes.push("cardMessage");
    }
    if stored.shopify_note != incoming.shopify_note {
        changes.push("shopifyNote");
    }
    if stored.items != incoming.items {
        changes.push("items");
    }
    let cancel = (incoming.cancelled || is_cancel_topic) && !stored.status_is_cancelled;
    if cancel && stored.status_is_delivered {
        return UpdateDecision::CancelRefused { changes };
    }
    if cancel {
        changes.push("status");
    }
    if changes.is_empty() {
        UpdateDecision::NoChange
    } else {
        UpdateDecision::Apply { changes, cancel }
    }
}

/// Compares as instants when both parse as RFC 3339 (whatever their offsets), else as strings.
fn compare_instants(a: &str, b: &str) -> std::cmp::Ordering {
    match (
        DateTime::parse_from_rfc3339(a),
        DateTime::parse_from_rfc3339(b),
    ) {
        (Ok(a), Ok(b)) => a.cmp(&b),
        _ => a.cmp(b),
    }
}

fn parse_object(raw_body: &[u8]) -> Result<Object, MapError> {
    match serde_json::from_slice(raw_body)? {
        Value::Object(object) => Ok(object),
        _ => Err(malformed("body must be a JSON object")),
    }
}

/// A positive integer id, given as a JSON number or a string of digits.
fn positive_id(value: Option<&Value>, path: &str) -> Result<String, MapError> {
    let id = match value {
        None | Some(Value::Null) => return Err(malformed(format!("missing field {path}"))),
        Some(Value::Number(number)) => number.as_u64(),
        Some(Value::String(digits)) => {
            let digits = digits.trim();
            if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
                digits.parse::<u64>().ok()
            } else {
                None
            }
        }
        Some(_) => None,
    };
    match id {
        Some(id) if id > 0 => Ok(id.to_string()),
        _ => Err(malformed(format!(
            "field {path} must be a positive integer"
        ))),
    }
}

/// A trimmed, non-empty string field; missing, null and blank are `None`, other types are malformed.
/// `prefix` locates `object` in the payload for the message, e.g. "customer." or "line_items[2].".
fn text<'a>(object: &'a Object, prefix: &str, key: &str) -> Result<Option<&'a str>, MapError> {
    match object.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => {
            let trimmed = s.trim();
            Ok((!trimmed.is_empty()).then_some(trimmed))
        }
        Some(_) => Err(malformed(format!("field {prefix}{key} must be a string"))),
    }
}

fn object<'a>(object: &'a Object, prefix: &str, key: &str) -> Result<Option<&'a Object>, MapError> {
    match object.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(inner)) => Ok(Some(inner)),
        Some(_) => Err(malformed(format!("field {prefix}{key} must be an object"))),
    }
}

/// An array field; missing and null are empty.
fn array<'a>(object: &'a Object, prefix: &str, key: &str) -> Result<&'a [Value], MapError> {
    match object.get(key) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(values)) => Ok(values),
        Some(_) => Err(malformed(format!("field {prefix}{key} must be an array"))),
    }
}

/// At most `max_chars` chars of `s`, cut on a char boundary.
fn clip(s: &str, max_chars: usize) -> String {
    match s.char_indices().nth(max_chars) {
        Some((end, _)) => s.get(..end).unwrap_or(s).trim_end().to_owned(),
        None => s.to_owned(),
    }
}

fn order_number(order: &Object) -> Result<String, MapError> {
    if let Some(name) = text(order, "", "name")? {
        return Ok(clip(name, ORDER_NUMBER_MAX));
    }
    let number = match order.get("order_number") {
        Some(Value::Number(number)) => number.as_u64().map(|n| n.to_string()),
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        _ => None,
    };
    number
        .map(|number| clip(&format!("#{number}"), ORDER_NUMBER_MAX))
        .ok_or_else(|| malformed("missing field name"))
}

fn customer_email(order: &Object) -> Result<Option<String>, MapError> {
    let customer = object(order, "", "customer")?;
    let candidates = [
        text(order, "", "email")?,
        text(order, "", "contact_email")?,
        match customer {
            Some(customer) => text(customer, "customer.", "email")?,
            None => None,
        },
    ];
    Ok(candidates
        .into_iter()
        .flatten()
        .find(|email| email.chars().count() <= EMAIL_MAX)
        .map(str::to_owned))
}

fn customer_name(order: &Object, email: Option<&str>) -> Result<String, MapError> {
    for (key, prefix) in [
        ("customer", "customer."),
        ("shipping_address", "shipping_address."),
        ("billing_address", "billing_address."),
    ] {
        if let Some(person) = object(order, "", key)? {
            if let Some(name) = person_name(person, prefix)? {
                return Ok(clip(&name, CUSTOMER_NAME_MAX));
            }
        }
    }
    Ok(clip(email.unwrap_or(UNKNOWN_CUSTOMER), CUSTOMER_NAME_MAX))
}

/// "first last" (either may be missing), else the `name` field.
fn person_name(person: &Object, prefix: &str) -> Result<Option<String>, MapError> {
    let first = text(person, prefix, "first_name")?;
    let last = text(person, prefix, "last_name")?;
    let joined = [first, last]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    if !joined.is_empty() {
        return Ok(Some(joined));
    }
    Ok(text(person, prefix, "name")?.map(str::to_owned))
}

fn items(order: &Object, cancelled: bool) -> Result<Vec<Item>, MapError> {
    let mut items = Vec::new();
    for (index, line) in array(order, "", "line_items")?.iter().enumerate() {
        let prefix = format!("line_items[{index}].");
        let Value::Object(line) = line else {
            return Err(malformed(format!("line_items[{index}] must be an object")));
        };
        let ordered = quantity(line, &prefix, "quantity")?
            .ok_or_else(|| malformed(format!("missing field {prefix}quantity")))?;
        let current = quantity(line, &prefix, "current_quantity")?;
        let quantity = if cancelled {
            ordered
        } else {
            current.unwrap_or(ordered)
        };
        if quantity == 0 {
            continue;
        }
        let title = line_title(line, &prefix)?
            .ok_or_else(|| malformed(format!("missing field {prefix}title")))?;
        items.push(Item { title, quantity });
    }
    Ok(items)
}

/// A line's quantity: a whole number from 0 to [`MAX_QUANTITY`], the most of one item the board
/// holds (the same bound as an order entered by hand). More is refused as malformed rather than
/// stored as an order the API could not describe, or cut to a quantity nobody ordered.
fn quantity(line: &Object, prefix: &str, key: &str) -> Result<Option<u32>, MapError> {
    let refused = || {
        malformed(format!(
            "field {prefix}{key} must be a whole number from 0 to {MAX_QUANTITY}"
        ))
    };
    match line.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(number)) => number
            .as_u64()
            .filter(|q| *q <= u64::from(MAX_QUANTITY))
            .map(|q| Some(q as u32))
            .ok_or_else(refused),
        Some(_) => Err(refused()),
    }
}

/// `title` plus the variant ("Pink Rose Bouquet - Large"), else `name` (which Shopify already
/// builds that way). The variant is what tells the florist which size to make.
fn line_title(line: &Object, prefix: &str) -> Result<Option<String>, MapError> {
    let title = match text(line, prefix, "title")? {
        Some(title) => match text(line, prefix, "variant_title")? {
            Some(variant) if variant != DEFAULT_VARIANT_TITLE => format!("{title} - {variant}"),
            _ => title.to_owned(),
        },
        None => match text(line, prefix, "name")? {
            Some(name) => name.to_owned(),
            None => return Ok(None),
        },
    };
    Ok(Some(clip(&title, TITLE_MAX)))
}

/// The first non-blank value of a `note_attributes` entry, else of a line item `properties`
/// entry, whose name normalises to one of `keys`.
fn attribute<'a>(order: &'a Object, keys: &[&str]) -> Result<Option<&'a str>, MapError> {
    if let Some(value) = find_in_pairs(array(order, "", "note_attributes")?, keys) {
        return Ok(Some(value));
    }
    for (index, line) in array(order, "", "line_items")?.iter().enumerate() {
        if let Value::Object(line) = line {
            let properties = array(line, &format!("line_items[{index}]."), "properties")?;
            if let Some(value) = find_in_pairs(properties, keys) {
                return Ok(Some(value));
            }
        }
    }
    Ok(None)
}

/// Searches `[{"name": …, "value": …}]`; entries of another shape are skipped, since storefront
/// apps write these freely.
fn find_in_pairs<'a>(pairs: &'a [Value], keys: &[&str]) -> Option<&'a str> {
    pairs.iter().find_map(|pair| {
        let name = pair.get("name")?.as_str()?;
        let value = pair.get("value")?.as_str()?.trim();
        (!value.is_empty() && keys.contains(&attribute_key(name).as_str())).then_some(value)
    })
}

/// Lowercase letters and digits only: "Delivery-Date", "delivery_date" → "deliverydate".
/// Only ASCII is lowercased: the keys are ASCII without a `k` (the one letter a non-ASCII one,
/// U+212A KELVIN SIGN, lowercases to), so a name with any other letter never matched anyway,
/// and the Unicode lowercase table stays out of the Wasm (issue #14).
fn attribute_key(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// Reads the date formats delivery-date apps write. A datetime keeps the date as written (the
/// customer's local date), not its UTC date. Slash dates with the year last are read day-first
/// or month-first only when one reading is impossible; "03/04/2026" is ambiguous, hence None.
fn parse_delivery_date(value: &str) -> Option<NaiveDate> {
    let value = value.trim();
    if let (Some(date), Some(rest)) = (value.get(..10), value.get(10..)) {
        if rest.is_empty() || rest.starts_with(['T', 't', ' ']) {
            if let Some(date) = crate::domain::parse_date_as(date, "%Y-%m-%d") {
                return Some(date);
            }
        }
    }
    if let Some(date) = parse_numeric_date(value) {
        return Some(date);
    }
    crate::domain::NAMED_DATE_FORMATS
        .iter()
        .find_map(|format| crate::domain::parse_date_as(value, format))
}

/// "2026/11/25", "11/25/2026", "25/11/2026" (when unambiguous) and "25.11.2026".
fn parse_numeric_date(value: &str) -> Option<NaiveDate> {
    let separator = if value.contains('/') { '/' } else { '.' };
    let parts: Vec<&str> = value.split(separator).map(str::trim).collect();
    let [a, b, c] = parts.as_slice() else {
        return None;
    };
    let number = |s: &str| -> Option<u32> {
        (!s.is_empty() && s.len() <= 4 && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    let (a_len, c_len) = (a.len(), c.len());
    let (a, b, c) = (number(a)?, number(b)?, number(c)?);
    let year = |y: u32| i32::try_from(y).ok();
    if a_len == 4 {
        return NaiveDate::from_ymd_opt(year(a)?, b, c);
    }
    if c_len != 4 {
        return None;
    }
    let (month, day) = if separator == '.' || a > 12 {
        (b, a)
    } else if b > 12 || a == b {
        (a, b)
    } else {
        return None;
    };
    NaiveDate::from_ymd_opt(year(c)?, month, day)
}

/// `updated_at` as RFC 3339 UTC with millis; present but unreadable is malformed, because it is
/// what orders retries.
fn updated_at(order: &Object) -> Result<Option<String>, MapError> {
    let Some(raw) = text(order, "", "updated_at")? else {
        return Ok(None);
    };
    let parsed = DateTime::parse_from_rfc3339(raw)
        .map_err(|_| malformed("field updated_at must be an RFC 3339 date-time"))?;
    Ok(Some(
        parsed
            .with_timezone(&Utc)
            .to_rfc3339_opts(SecondsFormat::Millis, true),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribute_keys_are_what_an_ascii_only_lowercasing_can_match() {
        for key in DELIVERY_DATE_KEYS.iter().chain(CARD_MESSAGE_KEYS) {
            assert!(!key.contains('k'), "{key}: U+212A lowercases to k");
            assert!(key
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()));
            assert_eq!(attribute_key(key), *key);
        }
        assert_eq!(attribute_key("Delivery–Date 📅"), "deliverydate");
    }
    use serde_json::json;

    const SECRET: &[u8] = b"shpss_test_secret_for_demo_flowers";
    const CREATE: &[u8] = include_bytes!("../tests/fixtures/shopify/orders-create.json");
    const UPDATED: &[u8] = include_bytes!("../tests/fixtures/shopify/orders-updated.json");
    const CANCELLED: &[u8] = include_bytes!("../tests/fixtures/shopify/orders-cancelled.json");
    const DELETE: &[u8] = include_bytes!("../tests/fixtures/shopify/orders-delete.json");
    const EDITED: &[u8] = include_bytes!("../tests/fixtures/shopify/orders-edited.json");

    fn parsed(body: &[u8]) -> ShopifyOrder {
        parse_order(body).expect("fixture maps")
    }

    fn fixture_json(body: &[u8]) -> Value {
        serde_json::from_slice(body).expect("fixture is JSON")
    }

    /// The create fixture with `edit` applied to its JSON, mapped.
    fn create_with(edit: impl FnOnce(&mut Value)) -> Result<ShopifyOrder, MapError> {
        let mut order = fixture_json(CREATE);
        edit(&mut order);
        parse_order(&serde_json::to_vec(&order).expect("serialises"))
    }

    fn malformed_message(result: Result<ShopifyOrder, MapError>) -> String {
        match result {
            Err(MapError::Malformed(message)) => message,
            Ok(order) => panic!("expected Malformed, got {order:?}"),
        }
    }

    fn item(title: &str, quantity: u32) -> Item {
        Item {
            title: title.to_owned(),
            quantity,
        }
    }

    fn stored_from(body: &[u8]) -> StoredShopifyFields {
        StoredShopifyFields::from(&parsed(body))
    }

    // --- HMAC ---

    #[test]
    fn signed_body_verifies() {
        let header = sign(SECRET, CREATE);
        assert!(verify_hmac(SECRET, CREATE, Some(&header)));
    }

    #[test]
    fn signature_matches_rfc_4231_test_vector() {
        // RFC 4231 test case 2, digest 5bdcc146…64ec3843, base64-encoded.
        assert_eq!(
            sign(b"Jefe", b"what do ya want for nothing?"),
            "W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM="
        );
    }

    #[test]
    fn tampered_body_fails_verification() {
        let header = sign(SECRET, CREATE);
        let mut tampered = CREATE.to_vec();
        let at = tampered
            .windows(5)
            .position(|w| w == b"65.00")
            .expect("price in fixture");
        tampered[at] = b'1';
        assert!(!verify_hmac(SECRET, &tampered, Some(&header)));
    }

    #[test]
    fn wrong_secret_fails_verification() {
        let header = sign(b"another-shop-secret", CREATE);
        assert!(!verify_hmac(SECRET, CREATE, Some(&header)));
    }

    #[test]
    fn missing_header_fails_verification() {
        assert!(!verify_hmac(SECRET, CREATE, None));
        assert!(!verify_hmac(SECRET, CREATE, Some("")));
    }

    #[test]
    fn garbage_header_fails_verification() {
        assert!(!verify_hmac(SECRET, CREATE, Some("not base64 at all!")));
        assert!(!verify_hmac(SECRET, CREATE, Some("%%%%")));
    }

    #[test]
    fn truncated_or_hex_signature_fails_verification() {
        let header = sign(SECRET, CREATE);
        let decoded = STANDARD.decode(&header).expect("base64");
        let truncated = STANDARD.encode(&decoded[..16]);
        assert!(!verify_hmac(SECRET, CREATE, Some(&truncated)));
        let hex: String = decoded.iter().map(|b| format!("{b:02x}")).collect();
        assert!(!verify_hmac(SECRET, CREATE, Some(&hex)));
    }

    #[test]
    fn header_with_surrounding_whitespace_verifies() {
        let header = format!(" {}\t", sign(SECRET, CREATE));
        assert!(verify_hmac(SECRET, CREATE, Some(&header)));
    }

    #[test]
    fn empty_secret_never_verifies() {
        let header = sign(b"", CREATE);
        assert!(!verify_hmac(b"", CREATE, Some(&header)));
    }

    // --- topics ---

    #[test]
    fn order_topics_parse_to_their_variants() {
        assert_eq!(Topic::parse("orders/create"), Topic::OrdersCreate);
        assert_eq!(Topic::parse("orders/updated"), Topic::OrdersUpdated);
        assert_eq!(Topic::parse("orders/edited"), Topic::OrdersEdited);
        assert_eq!(Topic::parse("orders/cancelled"), Topic::OrdersCancelled);
        assert_eq!(Topic::parse(" orders/delete "), Topic::OrdersDelete);
        assert_eq!(Topic::OrdersCancelled.to_string(), "orders/cancelled");
    }

    #[test]
    fn other_topics_are_kept_by_name() {
        let topic = Topic::parse("orders/fulfilled");
        assert_eq!(topic, Topic::Other("orders/fulfilled".to_owned()));
        assert_eq!(topic.as_str(), "orders/fulfilled");
    }

    // --- fixtures ---

    #[test]
    fn create_fixture_maps_every_field() {
        assert_eq!(
            parsed(CREATE),
            ShopifyOrder {
                shopify_order_id: "5678901234567".to_owned(),
                order_number: "#1001".to_owned(),
                customer_name: "Emma Clarke".to_owned(),
                customer_email: Some("emma.clarke@example.com".to_owned()),
                delivery_date: Some("2026-11-26".to_owned()),
                card_message: Some("Happy birthday, Mum! ❤️".to_owned()),
                shopify_note: Some("Please ring the bell twice".to_owned()),
                items: vec![item("Pink Rose Bouquet", 1), item("Greeting card", 1)],
                updated_at: Some("2026-11-24T14:15:00.000Z".to_owned()),
                cancelled: false,
                triggered_at: None,
            }
        );
    }

    #[test]
    fn updated_fixture_maps_the_new_note_card_message_and_quantity() {
        assert_eq!(
            parsed(UPDATED),
            ShopifyOrder {
                shopify_order_id: "5678901234567".to_owned(),
                order_number: "#1001".to_owned(),
                customer_name: "Emma Clarke".to_owned(),
                customer_email: Some("emma.clarke@example.com".to_owned()),
                delivery_date: Some("2026-11-26".to_owned()),
                card_message: Some("Happy birthday, Mum! Love always, Emma ❤️".to_owned()),
                shopify_note: Some(
                    "Please ring the bell twice. If nobody answers, leave it with the neighbour at no. 14."
                        .to_owned()
                ),
                items: vec![item("Pink Rose Bouquet", 2), item("Greeting card", 1)],
                updated_at: Some("2026-11-24T16:40:00.000Z".to_owned()),
                cancelled: false,
                triggered_at: None,
            }
        );
    }

    #[test]
    fn cancelled_fixture_is_cancelled_and_keeps_the_ordered_items() {
        let order = parsed(CANCELLED);
        assert!(order.cancelled);
        assert_eq!(order.shopify_order_id, "5678901234567");
        assert_eq!(
            order.updated_at.as_deref(),
            Some("2026-11-24T17:05:02.000Z")
        );
        assert_eq!(
            order.items,
            vec![item("Pink Rose Bouquet", 2), item("Greeting card", 1)]
        );
        assert_eq!(order.delivery_date.as_deref(), Some("2026-11-26"));
    }

    #[test]
    fn delete_fixture_yields_the_order_id() {
        assert_eq!(parse_deleted_id(DELETE), Ok("5678901234567".to_owned()));
    }

    #[test]
    fn edited_fixture_yields_the_order_id_but_is_not_an_order() {
        assert_eq!(
            parse_edited_order_id(EDITED),
            Ok("5678901234567".to_owned())
        );
        assert!(malformed_message(parse_order(EDITED)).contains("order_edit"));
    }

    #[test]
    fn item_serialises_as_title_and_quantity() {
        let json = serde_json::to_value(item("Pink Rose Bouquet", 2)).expect("serialises");
        assert_eq!(json, json!({"title": "Pink Rose Bouquet", "quantity": 2}));
    }

    // --- mapping details ---

    #[test]
    fn note_attribute_names_match_case_and_separator_insensitively() {
        for (date_name, card_name) in [
            ("delivery_date", "card_message"),
            ("DELIVERY-DATE", "Gift message"),
            ("deliveryDate", "CARD MESSAGE"),
            (" Delivery Date: ", "gift-note"),
        ] {
            let order = create_with(|o| {
                o["note_attributes"] = json!([
                    {"name": "Gift wrap", "value": "yes"},
                    {"name": date_name, "value": "2026-12-24"},
                    {"name": card_name, "value": "  Merry Christmas  "}
                ]);
            })
            .expect("maps");
            assert_eq!(
                order.delivery_date.as_deref(),
                Some("2026-12-24"),
                "{date_name}"
            );
            assert_eq!(
                order.card_message.as_deref(),
                Some("Merry Christmas"),
                "{card_name}"
            );
        }
    }

    #[test]
    fn attributes_fall_back_to_line_item_properties() {
        let order = create_with(|o| {
            o["note_attributes"] = json!([]);
            o["line_items"][1]["properties"] = json!([
                {"name": "Card message", "value": "Get well soon"},
                {"name": "_Delivery Date", "value": "2026-11-27"}
            ]);
        })
        .expect("maps");
        assert_eq!(order.card_message.as_deref(), Some("Get well soon"));
        assert_eq!(order.delivery_date.as_deref(), Some("2026-11-27"));
    }

    #[test]
    fn missing_or_blank_attributes_are_none() {
        let order = create_with(|o| {
            o["note_attributes"] = json!([
                {"name": "Delivery Date", "value": "   "},
                {"name": "Card Message"},
                {"value": "orphan"},
                "not a pair"
            ]);
        })
        .expect("maps");
        assert_eq!(order.delivery_date, None);
        assert_eq!(order.card_message, None);
    }

    #[test]
    fn delivery_dates_in_common_formats_become_iso_dates() {
        for (written, expected) in [
            ("2026-11-25", "2026-11-25"),
            ("2026-11-25T18:30:00-05:00", "2026-11-25"),
            ("2026-11-25T23:30:00-05:00", "2026-11-25"),
            ("2026-11-25 10:00", "2026-11-25"),
            ("2026/11/25", "2026-11-25"),
            ("11/25/2026", "2026-11-25"),
            ("25/11/2026", "2026-11-25"),
            ("25.11.2026", "2026-11-25"),
            ("11/11/2026", "2026-11-11"),
            ("November 25, 2026", "2026-11-25"),
            ("Wednesday, November 25, 2026", "2026-11-25"),
            ("25 Nov 2026", "2026-11-25"),
        ] {
            let date = parse_delivery_date(written).map(|d| d.to_string());
            assert_eq!(date.as_deref(), Some(expected), "{written}");
        }
    }

    #[test]
    fn unreadable_or_ambiguous_delivery_dates_are_none() {
        for written in [
            "tomorrow",
            "03/04/2026",
            "2026-02-30",
            "13/13/2026",
            "2026-11-25garbage",
            "11/25/26",
            "",
        ] {
            assert_eq!(parse_delivery_date(written), None, "{written}");
        }
        let order = create_with(|o| {
            o["note_attributes"][0]["value"] = json!("as soon as possible");
        })
        .expect("maps");
        assert_eq!(order.delivery_date, None);
    }

    #[test]
    fn customer_name_falls_back_to_shipping_billing_then_email() {
        let shipping = create_with(|o| o["customer"] = Value::Null).expect("maps");
        assert_eq!(shipping.customer_name, "Margaret Clarke");

        let billing = create_with(|o| {
            o["customer"] = Value::Null;
            o["shipping_address"] = Value::Null;
        })
        .expect("maps");
        assert_eq!(billing.customer_name, "Emma Clarke");

        let email = create_with(|o| {
            o.as_object_mut().map(|o| o.remove("customer"));
            o["shipping_address"] = json!({"first_name": " ", "last_name": null, "name": ""});
            o["billing_address"] = Value::Null;
        })
        .expect("maps");
        assert_eq!(email.customer_name, "emma.clarke@example.com");

        let nobody = create_with(|o| {
            o["customer"] = Value::Null;
            o["shipping_address"] = Value::Null;
            o["billing_address"] = Value::Null;
            o["email"] = json!("");
            o["contact_email"] = Value::Null;
        })
        .expect("maps");
        assert_eq!(nobody.customer_name, "Shopify customer");
        assert_eq!(nobody.customer_email, None);
    }

    #[test]
    fn customer_with_only_a_last_name_is_named_by_it() {
        let order = create_with(|o| o["customer"]["first_name"] = Value::Null).expect("maps");
        assert_eq!(order.customer_name, "Clarke");
    }

    #[test]
    fn email_falls_back_to_contact_email_then_customer_email() {
        let contact = create_with(|o| {
            o["email"] = json!("");
            o["contact_email"] = json!("contact@example.com");
        })
        .expect("maps");
        assert_eq!(
            contact.customer_email.as_deref(),
            Some("contact@example.com")
        );

        let customer = create_with(|o| {
            o["email"] = Value::Null;
            o["contact_email"] = Value::Null;
            o["customer"]["email"] = json!(" emma@example.org ");
        })
        .expect("maps");
        assert_eq!(customer.customer_email.as_deref(), Some("emma@example.org"));
    }

    #[test]
    fn overlong_email_is_dropped_not_cut() {
        let long = format!("{}@example.com", "a".repeat(300));
        let order = create_with(|o| {
            o["email"] = json!(long);
            o["contact_email"] = Value::Null;
            o["customer"]["email"] = Value::Null;
        })
        .expect("maps");
        assert_eq!(order.customer_email, None);
    }

    #[test]
    fn numeric_string_id_is_accepted() {
        let order = create_with(|o| o["id"] = json!(" 450789469 ")).expect("maps");
        assert_eq!(order.shopify_order_id, "450789469");
        assert_eq!(
            parse_deleted_id(br#"{"id":"450789469"}"#),
            Ok("450789469".to_owned())
        );
    }

    #[test]
    fn order_number_falls_back_to_the_number_field() {
        let order = create_with(|o| o["name"] = Value::Null).expect("maps");
        assert_eq!(order.order_number, "#1001");
    }

    #[test]
    fn zero_quantity_items_are_dropped() {
        let order = create_with(|o| {
            o["line_items"][1]["quantity"] = json!(0);
            o["line_items"][1]["current_quantity"] = json!(0);
        })
        .expect("maps");
        assert_eq!(order.items, vec![item("Pink Rose Bouquet", 1)]);
    }

    #[test]
    fn current_quantity_wins_over_ordered_quantity() {
        let order = create_with(|o| {
            o["line_items"][0]["quantity"] = json!(3);
            o["line_items"][0]["current_quantity"] = json!(2);
            o["line_items"][1]["current_quantity"] = json!(0);
        })
        .expect("maps");
        assert_eq!(order.items, vec![item("Pink Rose Bouquet", 2)]);
    }

    #[test]
    fn ordered_quantity_is_used_without_current_quantity() {
        let order = create_with(|o| {
            let line = o["line_items"][0].as_object_mut().expect("line item");
            line.remove("current_quantity");
            line.insert("quantity".to_owned(), json!(4));
        })
        .expect("maps");
        assert_eq!(order.items[0], item("Pink Rose Bouquet", 4));
    }

    #[test]
    fn item_title_carries_the_variant_or_falls_back_to_name() {
        let order = create_with(|o| {
            o["line_items"][0]["variant_title"] = json!("Large");
            o["line_items"][1]["variant_title"] = json!("Default Title");
        })
        .expect("maps");
        assert_eq!(
            order.items,
            vec![
                item("Pink Rose Bouquet - Large", 1),
                item("Greeting card", 1)
            ]
        );

        let named = create_with(|o| o["line_items"][0]["title"] = json!(" ")).expect("maps");
        assert_eq!(named.items[0].title, "Pink Rose Bouquet");
    }

    #[test]
    fn blank_note_is_none() {
        let order = create_with(|o| o["note"] = json!("  \n ")).expect("maps");
        assert_eq!(order.shopify_note, None);
    }

    #[test]
    fn long_strings_are_cut_on_char_boundaries() {
        let order = create_with(|o| {
            o["customer"]["first_name"] = json!("É".repeat(150));
            o["customer"]["last_name"] = json!("Ü".repeat(150));
            o["note"] = json!("🌹".repeat(2500));
            o["note_attributes"][1]["value"] = json!("ä".repeat(2001));
            o["line_items"][0]["title"] = json!("ø".repeat(400));
        })
        .expect("maps");
        assert_eq!(order.customer_name.chars().count(), 200);
        assert!(order.customer_name.starts_with('É') && order.customer_name.ends_with('Ü'));
        assert_eq!(order.shopify_note, Some("🌹".repeat(2000)));
        assert_eq!(order.card_message, Some("ä".repeat(2000)));
        assert_eq!(order.items[0].title, "ø".repeat(300));
    }

    #[test]
    fn updated_at_is_normalised_to_utc_with_millis() {
        let order =
            create_with(|o| o["updated_at"] = json!("2026-11-24T23:30:05.25+05:30")).expect("maps");
        assert_eq!(
            order.updated_at.as_deref(),
            Some("2026-11-24T18:00:05.250Z")
        );
        let none = create_with(|o| o["updated_at"] = Value::Null).expect("maps");
        assert_eq!(none.updated_at, None);
    }

    // --- malformed payloads ---

    #[test]
    fn non_object_payloads_are_malformed() {
        for body in [
            &b"[]"[..],
            b"\"order\"",
            b"42",
            b"null",
            b"",
            b"{\"id\":",
            b"\xff\xfe",
        ] {
            assert!(
                matches!(parse_order(body), Err(MapError::Malformed(_))),
                "{body:?}"
            );
        }
        assert_eq!(
            malformed_message(parse_order(b"[1]")),
            "body must be a JSON object"
        );
    }

    #[test]
    fn missing_id_is_malformed() {
        let missing = create_with(|o| {
            o.as_object_mut().map(|o| o.remove("id"));
        });
        assert_eq!(malformed_message(missing), "missing field id");
        assert_eq!(
            parse_deleted_id(b"{}"),
            Err(MapError::Malformed("missing field id".to_owned()))
        );
    }

    #[test]
    fn non_positive_or_fractional_ids_are_malformed() {
        for id in [
            json!(0),
            json!(-5),
            json!(1.5),
            json!("12a"),
            json!(""),
            json!(true),
        ] {
            let message = malformed_message(create_with(|o| o["id"] = id.clone()));
            assert_eq!(message, "field id must be a positive integer", "{id}");
        }
    }

    #[test]
    fn bad_quantities_are_malformed() {
        for quantity in [
            json!(-1),
            json!(1.5),
            json!("2"),
            json!(10_001),
            json!(720_442),
            json!(5_000_000_000u64),
        ] {
            let message = malformed_message(create_with(|o| {
                o["line_items"][0]["quantity"] = quantity.clone();
                o["line_items"][0]["current_quantity"] = Value::Null;
            }));
            assert_eq!(
                message, "field line_items[0].quantity must be a whole number from 0 to 10000",
                "{quantity}"
            );
        }
        let most = create_with(|o| {
            o["line_items"][0]["quantity"] = json!(10_000);
            o["line_items"][0]["current_quantity"] = json!(10_000);
        });
        assert_eq!(most.map(|o| o.items[0].quantity).ok(), Some(10_000));
        let current = malformed_message(create_with(|o| {
            o["line_items"][0]["quantity"] = json!(2);
            o["line_items"][0]["current_quantity"] = json!(10_001);
        }));
        assert_eq!(
            current,
            "field line_items[0].current_quantity must be a whole number from 0 to 10000"
        );
        let missing = create_with(|o| {
            o["line_items"][1]
                .as_object_mut()
                .map(|l| l.remove("quantity"));
        });
        assert_eq!(
            malformed_message(missing),
            "missing field line_items[1].quantity"
        );
    }

    #[test]
    fn wrongly_typed_fields_are_malformed() {
        type Edit = fn(&mut Value);
        let cases: [(&str, Edit); 6] = [
            ("field email must be a string", |o| o["email"] = json!(7)),
            ("field customer must be an object", |o| {
                o["customer"] = json!("Emma")
            }),
            ("field line_items must be an array", |o| {
                o["line_items"] = json!({})
            }),
            ("line_items[0] must be an object", |o| {
                o["line_items"][0] = json!("roses")
            }),
            ("field note_attributes must be an array", |o| {
                o["note_attributes"] = json!({"Delivery Date": "2026-11-26"})
            }),
            ("field shipping_address.name must be a string", |o| {
                o["customer"] = Value::Null;
                o["shipping_address"]["first_name"] = Value::Null;
                o["shipping_address"]["last_name"] = Value::Null;
                o["shipping_address"]["name"] = json!(["Margaret"]);
            }),
        ];
        for (expected, edit) in cases {
            assert_eq!(malformed_message(create_with(edit)), expected);
        }
    }

    #[test]
    fn line_item_without_any_title_is_malformed() {
        let message = malformed_message(create_with(|o| {
            o["line_items"][0]["title"] = Value::Null;
            o["line_items"][0]["name"] = Value::Null;
        }));
        assert_eq!(message, "missing field line_items[0].title");
    }

    #[test]
    fn unreadable_updated_at_is_malformed() {
        let message = malformed_message(create_with(|o| o["updated_at"] = json!("yesterday")));
        assert_eq!(message, "field updated_at must be an RFC 3339 date-time");
    }

    #[test]
    fn order_without_name_or_number_is_malformed() {
        let message = malformed_message(create_with(|o| {
            o["name"] = json!("");
            o["order_number"] = Value::Null;
        }));
        assert_eq!(message, "missing field name");
    }

    #[test]
    fn edit_payload_without_order_id_is_malformed() {
        assert_eq!(
            parse_edited_order_id(br#"{"order_edit":{"id":1}}"#),
            Err(MapError::Malformed(
                "missing field order_edit.order_id".to_owned()
            ))
        );
        assert_eq!(
            parse_edited_order_id(br#"{"id":1}"#),
            Err(MapError::Malformed("missing field order_edit".to_owned()))
        );
    }

    #[test]
    fn malformed_error_displays_its_message() {
        assert_eq!(
            MapError::Malformed("missing field id".to_owned()).to_string(),
            "missing field id"
        );
        assert!(malformed_message(parse_order(b"{")).starts_with("body is not valid JSON"));
    }

    // --- update decisions ---

    #[test]
    fn update_applies_exactly_the_changed_shopify_fields() {
        let decision = diff_update(&stored_from(CREATE), &parsed(UPDATED), false);
        assert_eq!(
            decision,
            UpdateDecision::Apply {
                changes: vec!["cardMessage", "shopifyNote", "items"],
                cancel: false
            }
        );
    }

    #[test]
    fn same_payload_again_is_stale() {
        assert_eq!(
            diff_update(&stored_from(UPDATED), &parsed(UPDATED), false),
            UpdateDecision::Stale
        );
    }

    #[test]
    fn a_same_instant_tie_is_newer_only_by_its_trigger_time() {
        let mut stored = stored_from(CREATE);
        let mut incoming = parsed(UPDATED);
        stored.shopify_updated_at = incoming.updated_at.clone();
        assert_eq!(
            diff_update(&stored, &incoming, false),
            UpdateDecision::Stale
        );
        stored.shopify_triggered_at = Some("2026-11-24T16:40:00.100Z".into());
        incoming.triggered_at = Some("2026-11-24T16:40:00.050Z".into());
        assert_eq!(
            diff_update(&stored, &incoming, false),
            UpdateDecision::Stale
        );
        incoming.triggered_at = Some("2026-11-24T16:40:00.200Z".into());
        assert!(matches!(
            diff_update(&stored, &incoming, false),
            UpdateDecision::Apply { .. }
        ));
    }

    #[test]
    fn a_delivered_order_is_never_cancelled_by_shopify() {
        let mut stored = stored_from(UPDATED);
        stored.status_is_delivered = true;
        let mut later = parsed(CANCELLED);
        later.updated_at = Some("2026-11-25T10:00:00.000Z".into());
        assert!(matches!(
            diff_update(&stored, &later, true),
            UpdateDecision::CancelRefused { changes } if !changes.contains(&"status")
        ));
    }

    #[test]
    fn a_full_order_body_is_not_a_deletion() {
        assert_eq!(
            parse_deleted_id(br#"{"id": 450789469}"#).unwrap(),
            "450789469"
        );
        assert!(parse_deleted_id(CREATE).is_err());
        assert!(parse_deleted_id(br#"{"id": 1, "line_items": []}"#).is_err());
    }

    #[test]
    fn older_payload_is_stale_even_when_its_fields_differ() {
        assert_eq!(
            diff_update(&stored_from(UPDATED), &parsed(CREATE), false),
            UpdateDecision::Stale
        );
        assert_eq!(
            diff_update(&stored_from(CANCELLED), &parsed(UPDATED), false),
            UpdateDecision::Stale
        );
    }

    #[test]
    fn staleness_compares_instants_not_strings() {
        let mut stored = stored_from(CREATE);
        // The incoming payload is 16:40Z. 17:10+01:00 is 16:10Z (older, though it sorts after
        // as a string); 12:00-05:00 is 17:00Z (newer, though it sorts before).
        stored.shopify_updated_at = Some("2026-11-24T17:10:00+01:00".to_owned());
        let incoming = parsed(UPDATED);
        assert!(matches!(
            diff_update(&stored, &incoming, false),
            UpdateDecision::Apply { .. }
        ));
        stored.shopify_updated_at = Some("2026-11-24T12:00:00-05:00".to_owned());
        assert_eq!(
            diff_update(&stored, &incoming, false),
            UpdateDecision::Stale
        );
    }

    #[test]
    fn unknown_updated_at_is_never_stale() {
        let mut stored = stored_from(UPDATED);
        stored.shopify_updated_at = None;
        let older = parsed(CREATE);
        assert!(matches!(
            diff_update(&stored, &older, false),
            UpdateDecision::Apply { .. }
        ));
        let mut undated = parsed(UPDATED);
        undated.updated_at = None;
        assert_eq!(
            diff_update(&stored_from(UPDATED), &undated, false),
            UpdateDecision::NoChange
        );
    }

    #[test]
    fn cancelled_payload_cancels_an_active_order() {
        let decision = diff_update(&stored_from(UPDATED), &parsed(CANCELLED), true);
        assert_eq!(
            decision,
            UpdateDecision::Apply {
                changes: vec!["status"],
                cancel: true
            }
        );
        assert_eq!(
            diff_update(&stored_from(UPDATED), &parsed(CANCELLED), false),
            decision
        );
    }

    #[test]
    fn cancel_topic_cancels_even_without_cancelled_at() {
        let mut later = parsed(UPDATED);
        later.updated_at = Some("2026-11-25T10:00:00.000Z".into());
        let decision = diff_update(&stored_from(UPDATED), &later, true);
        assert_eq!(
            decision,
            UpdateDecision::Apply {
                changes: vec!["status"],
                cancel: true
            }
        );
    }

    #[test]
    fn already_cancelled_order_is_not_cancelled_again() {
        let mut again = parsed(CANCELLED);
        again.updated_at = Some("2026-11-26T10:00:00.000Z".into());
        assert_eq!(
            diff_update(&stored_from(CANCELLED), &again, true),
            UpdateDecision::NoChange
        );
    }

    #[test]
    fn cancellation_and_field_changes_arrive_together() {
        let decision = diff_update(&stored_from(CREATE), &parsed(CANCELLED), true);
        assert_eq!(
            decision,
            UpdateDecision::Apply {
                changes: vec!["cardMessage", "shopifyNote", "items", "status"],
                cancel: true
            }
        );
    }

    #[test]
    fn every_shopify_field_is_reported_by_its_camel_case_name() {
        let stored = stored_from(CREATE);
        let incoming = ShopifyOrder {
            shopify_order_id: "5678901234567".to_owned(),
            order_number: "#1001-A".to_owned(),
            customer_name: "Emma C.".to_owned(),
            customer_email: None,
            delivery_date: Some("2026-11-27".to_owned()),
            card_message: None,
            shopify_note: None,
            items: vec![],
            updated_at: Some("2026-11-24T20:00:00.000Z".to_owned()),
            cancelled: false,
            triggered_at: None,
        };
        assert_eq!(
            diff_update(&stored, &incoming, false),
            UpdateDecision::Apply {
                changes: vec![
                    "orderNumber",
                    "customerName",
                    "customerEmail",
                    "deliveryDate",
                    "cardMessage",
                    "shopifyNote",
                    "items"
                ],
                cancel: false
            }
        );
    }

    #[test]
    fn florist_owned_fields_never_appear_in_changes() {
        let shopify_owned = [
            "orderNumber",
            "customerName",
            "customerEmail",
            "deliveryDate",
            "cardMessage",
            "shopifyNote",
            "items",
        ];
        let bodies = [CREATE, UPDATED, CANCELLED];
        for stored in bodies {
            for incoming in bodies {
                for cancel_topic in [false, true] {
                    let stored = stored_from(stored);
                    let decision = diff_update(&stored, &parsed(incoming), cancel_topic);
                    if let UpdateDecision::Apply { changes, cancel } = decision {
                        for change in &changes {
                            assert!(
                                shopify_owned.contains(change) || *change == "status",
                                "{change}"
                            );
                        }
                        assert!(!changes.contains(&"assignedTo") && !changes.contains(&"notes"));
                        assert_eq!(changes.contains(&"status"), cancel);
                        assert!(!cancel || !stored.status_is_cancelled);
                    }
                }
            }
        }
    }
}
