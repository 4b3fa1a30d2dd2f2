//! Where partners find help: the operator's documentation, support and community links
//! (`GET /api/v1/help`), in the header's Help menu, on error pages and where a key is reported
//! compromised. A link the operator did not set is not shown.

use leptos::prelude::*;
use portal_types::HelpLinks;

use crate::api;

/// The links, read once per visit.
#[derive(Clone, Copy)]
pub struct Help(LocalResource<Option<HelpLinks>>);

impl Help {
    pub fn provide() {
        provide_context(Self(LocalResource::new(|| async { api::help_links().await.ok() })));
    }

    fn links(&self) -> HelpLinks {
        self.0.get().flatten().unwrap_or_default()
    }
}

fn use_help() -> Help {
    expect_context()
}

/// The header's "Help" menu: documentation, support, community (those the operator set).
#[component]
pub fn HelpMenu() -> impl IntoView {
    let help = use_help();
    let items = move || {
        let links = help.links();
        [
            ("API documentation", links.docs_url),
            ("Contact support", links.support_url),
            ("Community forum", links.community_url),
        ]
        .into_iter()
        .filter_map(|(label, href)| href.map(|href| (label, href)))
        .collect::<Vec<_>>()
    };
    view! {
        <Show when=move || !items().is_empty()>
            <details class="help-menu">
                <summary>"Help"</summary>
                <ul class="switcher-menu help-links" role="list">
                    {move || items().into_iter().map(|(label, href)| view! { <li><a href=href>{label}</a></li> }).collect_view()}
                </ul>
            </details>
        </Show>
    }
}

/// A link to the support team with `text`, if the operator named one.
#[component]
pub fn SupportLink(#[prop(into)] text: String) -> impl IntoView {
    let help = use_help();
    move || help.links().support_url.map(|href| view! { <a href=href data-help="support">{text.clone()}</a> })
}

/// "Need help?" under an error: the documentation and support, as the operator set them.
#[component]
pub fn NeedHelp() -> impl IntoView {
    let help = use_help();
    move || {
        let links = help.links();
        let parts: Vec<_> = [("the API documentation", links.docs_url), ("support", links.support_url)]
            .into_iter()
            .filter_map(|(label, href)| href.map(|href| (label, href)))
            .collect();
        (!parts.is_empty()).then(|| {
            let last = parts.len() - 1;
            view! {
                <p class="muted need-help">
                    "Need help? See "
                    {parts.into_iter().enumerate().map(|(i, (label, href))| view! {
                        {(i > 0 && i == last).then_some(" or ")}
                        <a href=href>{label}</a>
                    }).collect_view()}
                    "."
                </p>
            }
        })
    }
}
