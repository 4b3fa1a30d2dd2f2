use leptos::prelude::*;
use leptos_router::components::A;

use crate::components::set_title;

#[component]
pub fn NotFoundPage() -> impl IntoView {
    set_title("Page not found");
    view! {
        <section class="page">
            <h1>"Page not found"</h1>
            <p>"There is nothing at this address."</p>
            <A href="/dashboard" attr:class="button primary">"Go to the dashboard"</A>
            <crate::help::NeedHelp/>
        </section>
    }
}
