use leptos::prelude::*;
use leptos_router::{components::A, hooks::use_query_map};

use crate::api;
use crate::components::{AuthCard, LinkNoLongerValid, Loading, Notice};

/// Where the mailed verification link lands: checks the token once and says how it went.
#[component]
pub fn VerifyEmailPage() -> impl IntoView {
    let token = use_query_map().with_untracked(|q| q.get("token")).unwrap_or_default();
    let verification = LocalResource::new(move || {
        let token = token.clone();
        async move { api::verify_email(&token).await }
    });

    view! {
        <AuthCard title="Verify your e-mail address">
            <Suspense fallback=|| view! { <Loading label="Checking your link…"/> }>
                {move || Suspend::new(async move {
                    match verification.await {
                        Ok(()) => view! {
                            <Notice>
                                <h2>"Your e-mail address is verified"</h2>
                                <p>"You can now sign in to the Partner Portal."</p>
                            </Notice>
                            <A href="/sign-in" attr:class="button primary">"Sign in"</A>
                        }.into_any(),
                        Err(error) if error.is_bad_link() => view! {
                            <LinkNoLongerValid error>
                                <p>"Sign in to have a new verification link sent to you."</p>
                                <A href="/sign-in" attr:class="button primary">"Sign in"</A>
                            </LinkNoLongerValid>
                        }.into_any(),
                        Err(error) => view! {
                            <p class="alert error" role="alert">{error.message()}</p>
                            <p>"Your link was not checked. Please open it again in a moment."</p>
                        }.into_any(),
                    }
                })}
            </Suspense>
        </AuthCard>
    }
}
