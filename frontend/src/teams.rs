//! The signed-in user's teams, shared by the header's team switcher and the dashboard.

use leptos::prelude::*;
use portal_types::Team;
use uuid::Uuid;

use crate::api;
use crate::components::{Fetched, Loaded};
use crate::paged::all_pages;
use crate::session::use_auth;

/// The team list, loaded once per signed-in user and reloaded after a change. Cheap to copy.
#[derive(Clone, Copy)]
pub struct Teams {
    list: Fetched<Vec<Team>>,
}

pub fn use_teams() -> Teams {
    expect_context::<Teams>()
}

impl Teams {
    pub fn provide() -> Self {
        let auth = use_auth();
        let user = Memo::new(move |_| auth.user().map(|u| u.id));
        let list = LocalResource::new(move || {
            let user = user.get();
            async move {
                match user {
                    None => Ok(Vec::new()),
                    Some(_) => all_pages(|cursor| auth.call(move |t| api::teams(t, cursor.clone()))).await,
                }
            }
        });
        let teams = Self { list };
        provide_context(teams);
        teams
    }

    /// Loads the list again (after a team was created, renamed, deleted, joined or left).
    pub fn reload(&self) {
        self.list.refetch();
    }

    /// The list, `None` while it loads (tracked).
    pub fn get(&self) -> Loaded<Vec<Team>> {
        self.list.get()
    }

    /// The team with `id` if the list has it (tracked).
    pub fn find(&self, id: Uuid) -> Option<Team> {
        self.list
            .with(|l| l.as_ref().and_then(|r| r.as_ref().ok()).and_then(|ts| ts.iter().find(|t| t.id == id).cloned()))
    }
}
