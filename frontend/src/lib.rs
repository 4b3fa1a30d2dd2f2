//! The Partner Portal web app: Leptos, rendered in the browser, talking to `/api/v1`.

pub mod api;
pub mod components;
pub mod format;
pub mod help;
pub mod paged;
mod pages;
pub mod permissions;
pub mod session;
pub mod teams;
#[cfg(test)]
mod tests;

use leptos::prelude::*;
use leptos_router::{
    NavigateOptions,
    components::{A, ParentRoute, Redirect, Route, Router, Routes},
    hooks::{use_location, use_navigate},
    path,
};
use uuid::Uuid;

use crate::components::{Loading, RequireSignIn};
use crate::pages::{
    AccountPage, ActivityPage, ApiKeysPage, DashboardPage, ForgotPasswordPage, InvitePage, KeyUsagePage, MembersPage,
    NotFoundPage, ResetPasswordPage, SignInPage, SignUpPage, TeamLayout, TeamOverviewPage, TeamSettingsPage,
    TeamUsagePage, VerifyEmailPage, WebhooksPage,
};
use crate::session::{Auth, use_auth};
use crate::teams::{Teams, use_teams};

#[component]
pub fn App() -> impl IntoView {
    Auth::provide();
    Teams::provide();
    components::Toasts::provide();
    help::Help::provide();
    view! {
        <Router>
            <a class="skip-link" href="#main">"Skip to content"</a>
            <AppHeader/>
            <main id="main" class="main" tabindex="-1">
                <Routes fallback=NotFoundPage>
                    <Route path=path!("/") view=|| view! { <Redirect path="/dashboard"/> }/>
                    <Route path=path!("/sign-up") view=SignUpPage/>
                    <Route path=path!("/sign-in") view=SignInPage/>
                    // Older mails link to /login.
                    <Route path=path!("/login") view=|| view! { <Redirect path="/sign-in"/> }/>
                    <Route path=path!("/verify-email") view=VerifyEmailPage/>
                    <Route path=path!("/forgot-password") view=ForgotPasswordPage/>
                    <Route path=path!("/reset-password") view=ResetPasswordPage/>
                    <Route path=path!("/invite") view=InvitePage/>
                    <Route path=path!("/dashboard") view=|| view! { <RequireSignIn>{screen(Screen::Dashboard)}</RequireSignIn> }/>
                    <Route path=path!("/account") view=|| view! { <RequireSignIn>{screen(Screen::Account)}</RequireSignIn> }/>
                    <ParentRoute path=path!("/teams/:team_id") view=|| view! { <RequireSignIn>{screen(Screen::Team)}</RequireSignIn> }>
                        <Route path=path!("") view=|| screen(Screen::TeamOverview)/>
                        <Route path=path!("members") view=|| screen(Screen::Members)/>
                        <Route path=path!("activity") view=|| screen(Screen::Activity)/>
                        <Route path=path!("settings") view=|| screen(Screen::TeamSettings)/>
                        <Route path=path!("api-keys") view=|| screen(Screen::ApiKeys)/>
                        <Route path=path!("api-keys/:key_id") view=|| screen(Screen::KeyUsage)/>
                        <Route path=path!("usage") view=|| screen(Screen::TeamUsage)/>
                        <Route path=path!("webhooks") view=|| screen(Screen::Webhooks)/>
                    </ParentRoute>
                </Routes>
            </main>
            <components::ToastArea/>
        </Router>
    }
}

/// The screens behind sign-in. `make web` builds with `--cfg wasm_split`, which puts them in a
/// WebAssembly module of their own that the browser fetches at the first visit to one of them:
/// the sign-in page loads only what it shows.
#[derive(Clone, Copy)]
#[repr(u8)]
enum Screen {
    Dashboard,
    Account,
    Team,
    TeamOverview,
    Members,
    Activity,
    TeamSettings,
    ApiKeys,
    KeyUsage,
    TeamUsage,
    Webhooks,
}

/// The screens' module could not be fetched (the browser console says why).
#[derive(Debug, Clone, Copy)]
pub struct ScreensUnavailable;

#[cfg(wasm_split)]
impl From<leptos::wasm_split::SplitLoaderError> for ScreensUnavailable {
    fn from(_: leptos::wasm_split::SplitLoaderError) -> Self {
        ScreensUnavailable
    }
}

/// The view of `screen`: the split point. With `wasm_split` its caller awaits the module first
/// (fetched once; a failed fetch is tried again at the next call).
#[cfg_attr(
    wasm_split,
    leptos::wasm_split::wasm_split(
        screens,
        wasm_split_path = ::leptos::wasm_split,
        fallible,
        preload(fetch_screens_module)
    )
)]
fn screen_view(screen: Screen) -> Result<AnyView, ScreensUnavailable> {
    Ok(match screen {
        Screen::Dashboard => view! { <DashboardPage/> }.into_any(),
        Screen::Account => view! { <AccountPage/> }.into_any(),
        Screen::Team => view! { <TeamLayout/> }.into_any(),
        Screen::TeamOverview => view! { <TeamOverviewPage/> }.into_any(),
        Screen::Members => view! { <MembersPage/> }.into_any(),
        Screen::Activity => view! { <ActivityPage/> }.into_any(),
        Screen::TeamSettings => view! { <TeamSettingsPage/> }.into_any(),
        Screen::ApiKeys => view! { <ApiKeysPage/> }.into_any(),
        Screen::KeyUsage => view! { <KeyUsagePage/> }.into_any(),
        Screen::TeamUsage => view! { <TeamUsagePage/> }.into_any(),
        Screen::Webhooks => view! { <WebhooksPage/> }.into_any(),
    })
}

async fn load_screen(screen: Screen) -> Result<AnyView, ScreensUnavailable> {
    #[cfg(wasm_split)]
    return screen_view(screen).await;
    #[cfg(not(wasm_split))]
    screen_view(screen)
}

/// Starts fetching the screens' module, which the next page needs (on a sign-in).
pub fn prefetch_screens() {
    #[cfg(wasm_split)]
    leptos::task::spawn_local(async {
        // A failure shows where the module is needed, with "Try again".
        let _ = fetch_screens_module().await;
    });
}

/// `screen`, with the loading view while its module is on its way, and "Try again" if it could
/// not be fetched.
///
/// A `<Transition>`, not a `<Suspense>`: a resource the screen reads outside a boundary of its
/// own (a list's "Load more", a picker) registers with this one, and a `<Suspense>` would swap the
/// whole screen for "Loading…" at every reload of it, taking the screen out of the document and
/// putting it back. An open `<dialog>` taken out of the document stops being modal (issue 23: the
/// secret of a new key ended up in the page flow, under the list it had refreshed).
fn screen(screen: Screen) -> impl IntoView {
    let attempt = RwSignal::new(0u32);
    view! {
        <Transition fallback=|| view! { <Loading/> }>
            {move || {
                attempt.track();
                Suspend::new(async move {
                    match load_screen(screen).await {
                        Ok(view) => view,
                        Err(ScreensUnavailable) => view! {
                            <div class="alert error" role="alert">
                                <p>"This page could not be loaded. Check your connection, then try again."</p>
                                <button type="button" class="button secondary" on:click=move |_| attempt.update(|n| *n += 1)>
                                    "Try again"
                                </button>
                            </div>
                        }.into_any(),
                    }
                })
            }}
        </Transition>
    }
}

#[component]
fn AppHeader() -> impl IntoView {
    let auth = use_auth();
    let signed_in = Memo::new(move |_| auth.is_signed_in());
    view! {
        <header class="app-header">
            <div class="header-start">
                <A href="/dashboard" attr:class="brand">"Partner Portal"</A>
                <Show when=move || signed_in.get()>
                    <TeamSwitcher/>
                </Show>
            </div>
            <nav aria-label="Main">
                <help::HelpMenu/>
                {move || if signed_in.get() {
                    view! {
                        <A href="/dashboard">"Dashboard"</A>
                        <A href="/account">"Account"</A>
                        <SignOutButton/>
                    }.into_any()
                } else {
                    view! {
                        <A href="/sign-in">"Sign in"</A>
                        <A href="/sign-up">"Sign up"</A>
                    }.into_any()
                }}
            </nav>
        </header>
    }
}

/// The team being looked at, with a menu of the user's other teams (a disclosure: keyboard and
/// screen-reader friendly without script tricks).
#[component]
fn TeamSwitcher() -> impl IntoView {
    let teams = use_teams();
    let location = use_location();
    let current = Memo::new(move |_| {
        location
            .pathname
            .with(|p| p.strip_prefix("/teams/").and_then(|rest| Uuid::parse_str(rest.split('/').next()?).ok()))
    });
    let details = NodeRef::<leptos::html::Details>::new();
    let close = move || {
        if let Some(d) = details.get_untracked() {
            d.set_open(false);
        }
    };
    // Close the menu whenever the page changes.
    Effect::new(move |_| {
        location.pathname.track();
        close();
    });
    let label =
        move || current.get().and_then(|id| teams.find(id)).map_or_else(|| "Select a team".to_owned(), |t| t.name);
    view! {
        <details class="team-switcher" node_ref=details
            on:keydown=move |ev| {
                if ev.key() == "Escape" && details.get_untracked().is_some_and(|d| d.open()) {
                    close();
                    if let Some(summary) = details.get_untracked().and_then(|d| d.first_element_child()) {
                        use leptos::wasm_bindgen::JsCast;
                        let _ = summary.unchecked_into::<leptos::web_sys::HtmlElement>().focus();
                    }
                }
            }>
            <summary aria-label=move || format!("Team: {}. Switch team", label())>
                <span class="switcher-label">{label}</span>
                <span aria-hidden="true" class="caret">"▾"</span>
            </summary>
            <div class="switcher-menu">
                {move || match teams.get() {
                    None => view! { <p class="muted">"Loading…"</p> }.into_any(),
                    Some(Err(e)) => view! { <p class="field-error">{e.message()}</p> }.into_any(),
                    Some(Ok(list)) => view! {
                        <ul role="list">
                            {list.into_iter().map(|t| {
                                let is_current = current.get() == Some(t.id);
                                view! {
                                    <li>
                                        <A href=format!("/teams/{}", t.id) attr:aria-current=is_current.then_some("true")>
                                            {t.name}
                                        </A>
                                    </li>
                                }
                            }).collect_view()}
                            <li class="switcher-new"><A href="/dashboard">"+ Create a team"</A></li>
                        </ul>
                    }.into_any(),
                }}
            </div>
        </details>
    }
}

#[component]
fn SignOutButton() -> impl IntoView {
    let auth = use_auth();
    let navigate = use_navigate();
    let sign_out = Action::new_unsync(move |_: &()| {
        let navigate = navigate.clone();
        async move {
            // Forget the session locally even when the server cannot be reached.
            let _ = api::logout().await;
            navigate("/sign-in", NavigateOptions::default());
            auth.signed_out();
        }
    });
    view! {
        <button type="button" class="button link" disabled=sign_out.pending() on:click=move |_| { sign_out.dispatch(()); }>
            "Sign out"
        </button>
    }
}
