//! Cursor-paginated lists, fetched one way everywhere: [`paged`] shows the first page for the
//! current query and adds the next with "Load more" ([`LoadMore`]); [`all_pages`] follows every
//! cursor, for the few lists a picker needs whole (the teams of the switcher).

use std::future::Future;

use leptos::prelude::*;
use portal_types::{
    ActivityEntry, ActivityPage, ApiKey, ApiKeyPage, Invitation, InvitationPage, Member, MemberPage, Team, TeamPage,
    WebhookDelivery, WebhookDeliveryPage,
};

use crate::api::ApiError;
use crate::components::{ErrorAlert, Loaded};

/// A page of a list the API pages with `next_cursor`.
pub trait CursorPage {
    type Item;
    fn into_parts(self) -> (Vec<Self::Item>, Option<String>);
}

macro_rules! cursor_pages {
    ($($page:ty => $item:ty),* $(,)?) => {$(
        impl CursorPage for $page {
            type Item = $item;
            fn into_parts(self) -> (Vec<$item>, Option<String>) {
                (self.items, self.next_cursor)
            }
        }
    )*};
}

cursor_pages!(
    ApiKeyPage => ApiKey,
    ActivityPage => ActivityEntry,
    MemberPage => Member,
    InvitationPage => Invitation,
    TeamPage => Team,
    WebhookDeliveryPage => WebhookDelivery,
);

/// Every item of a list, following its cursors.
pub async fn all_pages<P, Fut>(fetch: impl Fn(Option<String>) -> Fut) -> Result<Vec<P::Item>, ApiError>
where
    P: CursorPage,
    Fut: Future<Output = Result<P, ApiError>>,
{
    let (mut items, mut cursor) = (Vec::new(), None);
    loop {
        let (page, next) = fetch(cursor).await?.into_parts();
        items.extend(page);
        match next {
            Some(next) => cursor = Some(next),
            None => return Ok(items),
        }
    }
}

/// Asks for the page after a cursor (`None`: the first page).
type PageRequest = Box<dyn Fn(Option<String>)>;

/// A list shown page by page. Cheap to copy.
pub struct Paged<T: Send + Sync + 'static> {
    shown: RwSignal<Loaded<Vec<T>>>,
    next: RwSignal<Option<String>>,
    more_error: RwSignal<Option<ApiError>>,
    pending: RwSignal<bool>,
    request: StoredValue<PageRequest, LocalStorage>,
}

impl<T: Send + Sync + 'static> Clone for Paged<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: Send + Sync + 'static> Copy for Paged<T> {}

/// Loads the first page of the list `fetch` reads for `query()` at once, and again whenever the
/// query changes (the shown list stays until the new one is there, and an answer for an older
/// query is dropped).
pub fn paged<Q, P, Fut>(
    query: impl Fn() -> Q + Send + Sync + 'static,
    fetch: impl Fn(Q, Option<String>) -> Fut + 'static,
) -> Paged<P::Item>
where
    Q: Clone + PartialEq + Send + Sync + 'static,
    P: CursorPage + 'static,
    P::Item: Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<P, ApiError>> + 'static,
{
    let query = Memo::new(move |_| query());
    let shown = RwSignal::new(None);
    let next = RwSignal::new(None);
    let more_error = RwSignal::new(None);
    let pending = RwSignal::new(false);
    // Each first-page request starts a generation; answers of an older one are dropped.
    let generation = StoredValue::new(0u32);
    let request = move |cursor: Option<String>| {
        let more = cursor.is_some();
        let current = if more { generation.get_value() } else { generation.get_value().wrapping_add(1) };
        generation.set_value(current);
        pending.set(true);
        let answer = fetch(query.get_untracked(), cursor);
        leptos::task::spawn_local(async move {
            let answer = answer.await;
            if generation.try_get_value() != Some(current) {
                return;
            }
            pending.try_set(false);
            match answer.map(CursorPage::into_parts) {
                Ok((items, cursor)) => {
                    if more {
                        shown.update(|s: &mut Loaded<Vec<P::Item>>| {
                            if let Some(Ok(list)) = s {
                                list.extend(items);
                            }
                        });
                    } else {
                        shown.set(Some(Ok(items)));
                    }
                    next.set(cursor);
                    more_error.set(None);
                }
                Err(error) if more => more_error.set(Some(error)),
                Err(error) => {
                    shown.set(Some(Err(error)));
                    next.set(None);
                }
            }
        });
    };
    let paged = Paged { shown, next, more_error, pending, request: StoredValue::new_local(Box::new(request)) };
    Effect::new(move |_| {
        query.track();
        paged.reload();
    });
    paged
}

impl<T: Clone + Send + Sync + 'static> Paged<T> {
    /// What is shown: `None` until the first page is there (tracked).
    pub fn get(&self) -> Loaded<Vec<T>> {
        self.shown.get()
    }

    /// Loads the first page again (after a change to the list).
    pub fn reload(&self) {
        self.more_error.set(None);
        self.request.with_value(|request| request(None));
    }

    /// Whether a page is on its way (tracked).
    pub fn pending(&self) -> bool {
        self.pending.get()
    }

    fn load_more(&self) {
        if let Some(cursor) = self.next.get_untracked() {
            self.request.with_value(|request| request(Some(cursor)));
        }
    }
}

/// "Load more" under a list with more pages, and the error if the next page failed.
#[component]
pub fn LoadMore<T: Clone + Send + Sync + 'static>(list: Paged<T>, #[prop(into)] what: String) -> impl IntoView {
    let label = format!("Load more {what}");
    view! {
        {move || list.more_error.get().map(|error| view! { <ErrorAlert error/> })}
        <Show when=move || list.next.with(Option::is_some) && matches!(list.shown.with(|s| s.as_ref().map(Result::is_ok)), Some(true))>
            <button type="button" class="button secondary load-more" disabled=move || list.pending()
                aria-label=label.clone()
                on:click=move |_| list.load_more()>
                {move || if list.pending() { "Loading…" } else { "Load more" }}
            </button>
        </Show>
    }
}
