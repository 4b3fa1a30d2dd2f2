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

/// Asks for the page after a cursor.
type MoreRequest = Box<dyn Fn(String)>;

/// A page: the generation of the first page it belongs to, its items, and its cursor.
type Page<T> = (u32, Vec<T>, Option<String>);

/// A list shown page by page: the first page is a resource for the current query; "Load more"
/// adds the pages after it. Cheap to copy.
pub struct Paged<T: Send + Sync + 'static> {
    first: LocalResource<Result<Page<T>, ApiError>>,
    /// The pages loaded after the first, for the first page of their generation only.
    more: RwSignal<Page<T>>,
    more_error: RwSignal<Option<ApiError>>,
    loading_first: RwSignal<bool>,
    loading_more: RwSignal<bool>,
    request_more: StoredValue<MoreRequest, LocalStorage>,
}

impl<T: Send + Sync + 'static> Clone for Paged<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: Send + Sync + 'static> Copy for Paged<T> {}

/// Loads the first page of the list `fetch` reads for `query()` at once, and again whenever the
/// query changes (the shown list stays until the new one is there, and an answer for an older
/// query is dropped, with the pages loaded after it).
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
    let fetch = std::rc::Rc::new(fetch);
    let generation = StoredValue::new(0u32);
    let loading_first = RwSignal::new(false);
    let more_error = RwSignal::new(None);
    let first = LocalResource::new({
        let fetch = fetch.clone();
        move || {
            let current = generation.get_value().wrapping_add(1);
            generation.set_value(current);
            loading_first.set(true);
            more_error.set(None);
            let answer = fetch(query.get(), None);
            async move {
                let answer = answer.await;
                if generation.try_get_value() == Some(current) {
                    loading_first.try_set(false);
                }
                answer.map(|page| with_generation(current, page))
            }
        }
    });
    let more = RwSignal::new((0, Vec::new(), None));
    let loading_more = RwSignal::new(false);
    let request_more = move |cursor: String| {
        // The generation of the first page shown, which the next page continues.
        let Some(current) = first.with_untracked(|p| p.as_ref().and_then(|r| r.as_ref().ok()).map(|p| p.0)) else {
            return;
        };
        loading_more.set(true);
        let answer = fetch(query.get_untracked(), Some(cursor));
        leptos::task::spawn_local(async move {
            let answer = answer.await;
            loading_more.try_set(false);
            // The list was loaded anew meanwhile: this page continued the old one.
            if generation.try_get_value() != Some(current) {
                return;
            }
            match answer {
                Ok(page) => {
                    let (_, items, next) = with_generation(current, page);
                    more.update(|(shown_for, shown, cursor)| {
                        if *shown_for != current {
                            *shown_for = current;
                            shown.clear();
                        }
                        shown.extend(items);
                        *cursor = next;
                    });
                    more_error.set(None);
                }
                Err(error) => more_error.set(Some(error)),
            }
        });
    };
    Paged {
        first,
        more,
        more_error,
        loading_first,
        loading_more,
        request_more: StoredValue::new_local(Box::new(request_more)),
    }
}

fn with_generation<P: CursorPage>(generation: u32, page: P) -> Page<P::Item> {
    let (items, next) = page.into_parts();
    (generation, items, next)
}

impl<T: Clone + Send + Sync + 'static> Paged<T> {
    /// Every item shown: `None` until the first page is there (tracked; read inside
    /// [`crate::components::loaded`], the first page's resource holds its `<Transition>`).
    pub fn get(&self) -> Loaded<Vec<T>> {
        let more = self.more;
        self.first.get().map(|first| {
            first.map(|(generation, mut items, _)| {
                more.with(|(shown_for, extra, _)| {
                    if *shown_for == generation {
                        items.extend(extra.iter().cloned());
                    }
                });
                items
            })
        })
    }

    /// The cursor of the last page shown, if more follow (tracked).
    fn next(&self) -> Option<String> {
        let more = self.more;
        self.first.with(|first| match first {
            Some(Ok((generation, _, next))) => {
                more.with(
                    |(shown_for, extra, after)| {
                        if *shown_for == *generation && !extra.is_empty() { after.clone() } else { next.clone() }
                    },
                )
            }
            _ => None,
        })
    }

    /// Whether more pages follow the ones shown (tracked).
    pub fn has_more(&self) -> bool {
        self.next().is_some()
    }

    /// Loads the first page again (after a change to the list).
    pub fn reload(&self) {
        self.first.refetch();
    }

    /// Whether the next page is on its way (tracked).
    fn loading_more(&self) -> bool {
        self.loading_more.get()
    }

    /// Whether a page is on its way, the first or the next (tracked).
    pub fn pending(&self) -> bool {
        self.loading_first.get() || self.loading_more.get()
    }

    fn load_more(&self) {
        if let Some(cursor) = self.next() {
            self.request_more.with_value(|request| request(cursor));
        }
    }
}

/// "Load more" under a list with more pages, and the error if the next page failed.
#[component]
pub fn LoadMore<T: Clone + Send + Sync + 'static>(list: Paged<T>, #[prop(into)] what: String) -> impl IntoView {
    let label = format!("Load more {what}");
    view! {
        {move || list.more_error.get().map(|error| view! { <ErrorAlert error/> })}
        <Show when=move || list.next().is_some()>
            <button type="button" class="button secondary load-more" disabled=move || list.loading_more()
                aria-label=label.clone()
                on:click=move |_| list.load_more()>
                {move || if list.loading_more() { "Loading…" } else { "Load more" }}
            </button>
        </Show>
    }
}
