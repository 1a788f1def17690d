//! The deployment context every handler receives: the environment (D1, the hub namespace,
//! secrets, vars), the execution context (for work after the response) and the request's clock.
//! Everyone may import this module; it imports nothing from the routes.

use worker::Env;

use crate::domain::format_timestamp;
use crate::error::{ApiError, ApiResult};
use crate::http;

/// Everything a handler needs about the deployment.
pub struct App {
    pub env: Env,
    pub ctx: worker::Context,
    pub now_ms: i64,
}

impl App {
    pub fn db(&self) -> ApiResult<worker::D1Database> {
        Ok(self.env.d1("DB")?)
    }

    pub fn now(&self) -> String {
        format_timestamp(self.now_ms)
    }

    /// A required secret; missing means the deployment is misconfigured (our 500, logged).
    pub fn secret(&self, name: &str) -> ApiResult<String> {
        self.env
            .secret(name)
            .map(|s| s.to_string())
            .or_else(|_| self.env.var(name).map(|v| v.to_string()))
            .ok()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| ApiError::internal(format!("secret {name} is not configured")))
    }

    pub fn var_u64(&self, name: &str, default: u64) -> u64 {
        http::var_u64(&self.env, name, default)
    }
}
