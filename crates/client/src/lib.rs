//! A typed client of the Partner Portal REST API. [`ops`] describes every operation of the
//! OpenAPI document as a [`ops::Call`] (method, path, query, body, how the answer reads), with no
//! I/O: the web app sends them over `fetch`, and [`Client`] (feature `http`, on by default)
//! over reqwest, with one method per operation and problem+json answers as [`Error::Api`].
//!
//! ```no_run
//! # async fn run() -> Result<(), portal_client::Error> {
//! use portal_client::{Client, Page};
//! use portal_types::{CreateApiKeyRequest, Environment, Expiration, Scope};
//!
//! // An integrator with a team's API key.
//! let portal = Client::new("https://portal.example.com")?.with_token("pp_prod_…");
//! let team_id = "0f8fad5b-d9cb-469f-a165-70867728950e".parse().expect("a team id");
//! let keys = portal.list_api_keys(team_id, Page::first(50)).await?;
//! println!("{} keys", keys.items.len());
//! let created = portal
//!     .create_api_key(team_id, &CreateApiKeyRequest {
//!         name: "CI".into(),
//!         description: None,
//!         environment: Environment::Development,
//!         expiration: Expiration::Days30,
//!         usage_limit: Some(10_000),
//!         rate_limit: None,
//!         // Least privilege: only what this integration needs.
//!         scopes: Some(vec![Scope::TeamRead, Scope::UsageRead]),
//!         allowed_ips: None,
//!         alert_thresholds: None,
//!     })
//!     .await?;
//! println!("store this secret now: {}", created.secret);
//! # Ok(()) }
//! ```

pub mod ops;

pub use ops::{ActivityFilter, Call, Export, KeyQuery, LoginOutcome, Page, UsageRange};

#[cfg(feature = "http")]
mod http;
#[cfg(feature = "http")]
pub use http::*;
