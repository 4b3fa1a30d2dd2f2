//! Who is signed in. The access token lives in memory only; the refresh token is an HttpOnly
//! cookie the app never sees. On start the app trades the cookie for a session, so a reload
//! keeps the user signed in.

use std::future::Future;

use futures::future::{FutureExt, LocalBoxFuture, Shared};
use leptos::prelude::*;
use portal_types::{Session, User};

use crate::api::{self, ApiError};

type RefreshFuture = Shared<LocalBoxFuture<'static, Result<Session, ApiError>>>;

/// The session state, shared through context (see [`use_auth`]). Cheap to copy.
#[derive(Clone, Copy)]
pub struct Auth {
    session: RwSignal<Option<Session>>,
    /// False until the start-up refresh has answered.
    restored: RwSignal<bool>,
    /// The refresh in flight, if any. The server treats a refresh token used twice as stolen and
    /// ends the whole session, so concurrent callers must share one request.
    refreshing: StoredValue<Option<RefreshFuture>, LocalStorage>,
}

pub fn use_auth() -> Auth {
    expect_context::<Auth>()
}

impl Auth {
    /// Creates the state, provides it as context and starts restoring the session.
    pub fn provide() -> Self {
        let auth = Self {
            session: RwSignal::new(None),
            restored: RwSignal::new(false),
            refreshing: StoredValue::new_local(None),
        };
        provide_context(auth);
        leptos::task::spawn_local(async move {
            // 401 just means nobody is signed in; other errors leave the user signed out too.
            let _ = auth.refresh().await;
            auth.restored.set(true);
        });
        auth
    }

    /// Whether the start-up session check has finished (tracked).
    pub fn restored(&self) -> bool {
        self.restored.get()
    }

    pub fn is_signed_in(&self) -> bool {
        self.session.with(Option::is_some)
    }

    /// The signed-in user (tracked).
    pub fn user(&self) -> Option<User> {
        self.session.with(|s| s.as_ref().map(|s| s.user.clone()))
    }

    pub fn signed_in(&self, session: Session) {
        self.session.set(Some(session));
        self.restored.set(true);
    }

    pub fn signed_out(&self) {
        self.session.set(None);
    }

    /// Replaces the user after the server changed it (e.g. a new name).
    pub fn set_user(&self, user: User) {
        self.session.update(|s| {
            if let Some(s) = s {
                s.user = user;
            }
        });
    }

    /// Refreshes the session, joining the refresh already in flight if there is one.
    pub fn refresh(self) -> RefreshFuture {
        if let Some(in_flight) = self.refreshing.get_value() {
            return in_flight;
        }
        let future = async move {
            let result = api::refresh().await;
            self.refreshing.set_value(None);
            match &result {
                Ok(session) => self.session.set(Some(session.clone())),
                Err(e) if e.status() == Some(401) => self.session.set(None),
                Err(_) => {}
            }
            result
        }
        .boxed_local()
        .shared();
        self.refreshing.set_value(Some(future.clone()));
        future
    }

    /// Runs an authenticated call with the current access token. On 401 (token expired) it
    /// refreshes the session once and retries; if that fails the user is signed out.
    pub async fn call<T, F, Fut>(self, call: F) -> Result<T, ApiError>
    where
        F: Fn(String) -> Fut,
        Fut: Future<Output = Result<T, ApiError>>,
    {
        let token = self.session.with_untracked(|s| s.as_ref().map(|s| s.access_token.clone()));
        let token = match token {
            Some(token) => token,
            None => self.refresh().await?.access_token,
        };
        match call(token).await {
            Err(e) if e.status() == Some(401) => call(self.refresh().await?.access_token).await,
            result => result,
        }
    }
}
