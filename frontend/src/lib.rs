//! The Partner Portal web app: Leptos, rendered in the browser, talking to `/api/v1`.

pub mod api;
pub mod components;
mod pages;
pub mod session;
#[cfg(test)]
mod tests;

use leptos::prelude::*;
use leptos_router::{
    NavigateOptions,
    components::{A, Redirect, Route, Router, Routes},
    hooks::use_navigate,
    path,
};

use crate::components::RequireSignIn;
use crate::pages::{
    AccountPage, DashboardPage, ForgotPasswordPage, NotFoundPage, ResetPasswordPage, SignInPage, SignUpPage,
    VerifyEmailPage,
};
use crate::session::{Auth, use_auth};

#[component]
pub fn App() -> impl IntoView {
    Auth::provide();
    view! {
        <Router>
            <a class="skip-link" href="#main">"Skip to content"</a>
            <AppHeader/>
            <main id="main" class="main" tabindex="-1">
                <Routes fallback=NotFoundPage>
                    <Route path=path!("/") view=|| view! { <Redirect path="/dashboard"/> }/>
                    <Route path=path!("/sign-up") view=SignUpPage/>
                    <Route path=path!("/sign-in") view=SignInPage/>
                    <Route path=path!("/verify-email") view=VerifyEmailPage/>
                    <Route path=path!("/forgot-password") view=ForgotPasswordPage/>
                    <Route path=path!("/reset-password") view=ResetPasswordPage/>
                    <Route path=path!("/dashboard") view=|| view! { <RequireSignIn><DashboardPage/></RequireSignIn> }/>
                    <Route path=path!("/account") view=|| view! { <RequireSignIn><AccountPage/></RequireSignIn> }/>
                </Routes>
            </main>
        </Router>
    }
}

#[component]
fn AppHeader() -> impl IntoView {
    let auth = use_auth();
    let signed_in = Memo::new(move |_| auth.is_signed_in());
    view! {
        <header class="app-header">
            <A href="/dashboard" attr:class="brand">"Partner Portal"</A>
            <nav aria-label="Main">
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
