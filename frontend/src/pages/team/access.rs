//! What a key may do and from where: the scope picker (three presets, plain words for each
//! scope), the allowlist editor and the usage alert thresholds of the key dialogs.

use leptos::prelude::*;
use portal_types::{ApiKey, Scope};

use crate::api::ApiError;

/// The choices of the scope picker, narrowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preset {
    ReadOnly,
    Custom,
    Full,
}

impl Preset {
    const ALL: [Preset; 3] = [Preset::ReadOnly, Preset::Custom, Preset::Full];

    fn label(self) -> &'static str {
        match self {
            Preset::ReadOnly => "Read-only",
            Preset::Custom => "Custom",
            Preset::Full => "Full access",
        }
    }

    fn explain(self) -> &'static str {
        match self {
            Preset::ReadOnly => {
                "Reads the team, members, invitations, keys, usage and activity; changes nothing. Right for \
                 dashboards, monitoring and billing exports."
            }
            Preset::Custom => "Only the scopes you pick. Choose this when an integration needs to change one thing.",
            Preset::Full => {
                "Everything a key can do: manage members, invitations and keys. Pick it only for automation that \
                 does all of that; a leaked full-access key can do all of it too."
            }
        }
    }

    fn id(self) -> &'static str {
        match self {
            Preset::ReadOnly => "read-only",
            Preset::Custom => "custom",
            Preset::Full => "full",
        }
    }
}

pub fn read_only_scopes() -> Vec<Scope> {
    Scope::ALL.into_iter().filter(|s| !s.is_write()).collect()
}

/// The preset that names exactly these scopes.
pub fn preset_of(scopes: &[Scope]) -> Preset {
    let has = |list: &[Scope]| list.len() == scopes.len() && list.iter().all(|s| scopes.contains(s));
    if has(&Scope::ALL) {
        Preset::Full
    } else if has(&read_only_scopes()) {
        Preset::ReadOnly
    } else {
        Preset::Custom
    }
}

/// How a key's scopes read in a list: the preset's name, or how many scopes it has.
pub fn scope_summary(scopes: &[Scope]) -> String {
    match preset_of(scopes) {
        Preset::Custom => {
            let names: Vec<&str> = scopes.iter().map(|s| s.as_str()).collect();
            format!("Custom: {}", names.join(", "))
        }
        preset => preset.label().to_owned(),
    }
}

/// The scopes to send: all for full access, the read scopes, or those picked (at least one).
pub fn scopes_for(preset: Preset, picked: &[Scope]) -> Result<Vec<Scope>, String> {
    match preset {
        Preset::Full => Ok(Scope::ALL.to_vec()),
        Preset::ReadOnly => Ok(read_only_scopes()),
        Preset::Custom if picked.is_empty() => Err("Pick at least one scope.".to_owned()),
        Preset::Custom => Ok(Scope::ALL.into_iter().filter(|s| picked.contains(s)).collect()),
    }
}

/// Allowlist entries as typed: one per line, or separated by commas or spaces.
pub fn parse_ips(raw: &str) -> Vec<String> {
    raw.split(|c: char| c == ',' || c.is_whitespace()).filter(|s| !s.is_empty()).map(str::to_owned).collect()
}

/// Alert thresholds as typed, e.g. "80, 100" (percent signs allowed).
pub fn parse_thresholds(raw: &str) -> Result<Vec<u8>, String> {
    let mut list = Vec::new();
    for part in raw.split(|c: char| c == ',' || c.is_whitespace()).filter(|s| !s.is_empty()) {
        match part.trim_end_matches('%').parse::<u8>() {
            Ok(p) if (1..=100).contains(&p) => list.push(p),
            _ => return Err(format!("\"{part}\" is not a percentage from 1 to 100.")),
        }
    }
    if list.len() > 5 {
        return Err("At most 5 thresholds.".to_owned());
    }
    list.sort_unstable();
    list.dedup();
    Ok(list)
}

/// What the access inputs hold, parsed.
pub struct Access {
    pub scopes: Vec<Scope>,
    pub allowed_ips: Vec<String>,
    pub alert_thresholds: Vec<u8>,
}

/// The access inputs of the create and edit dialogs, as typed.
#[derive(Clone, Copy)]
pub struct AccessInputs {
    pub preset: RwSignal<Preset>,
    pub picked: RwSignal<Vec<Scope>>,
    pub ips: RwSignal<String>,
    pub thresholds: RwSignal<String>,
    /// (field, message) of the last local check.
    error: RwSignal<Option<(&'static str, String)>>,
}

impl Default for AccessInputs {
    /// A new key starts read-only: the narrowest preset that serves most integrations.
    fn default() -> Self {
        Self {
            preset: RwSignal::new(Preset::ReadOnly),
            picked: RwSignal::new(Vec::new()),
            ips: RwSignal::new(String::new()),
            thresholds: RwSignal::new("80, 100".to_owned()),
            error: RwSignal::new(None),
        }
    }
}

impl AccessInputs {
    pub fn of(key: &ApiKey) -> Self {
        let inputs = Self::default();
        inputs.preset.set(preset_of(&key.scopes));
        inputs.picked.set(key.scopes.clone());
        inputs.ips.set(key.allowed_ips.join("\n"));
        // A key without a limit has no alerts; if it gets one here, it starts with the defaults.
        if key.usage_limit.is_some() {
            let shown: Vec<String> = key.alert_thresholds.iter().map(u8::to_string).collect();
            inputs.thresholds.set(shown.join(", "));
        }
        inputs
    }

    /// The access settings, or None after showing what is wrong.
    pub fn parse(&self) -> Option<Access> {
        let parsed = scopes_for(self.preset.get_untracked(), &self.picked.get_untracked())
            .map_err(|m| ("scopes", m))
            .and_then(|scopes| {
                let alert_thresholds =
                    parse_thresholds(&self.thresholds.get_untracked()).map_err(|m| ("alert_thresholds", m))?;
                Ok(Access { scopes, allowed_ips: parse_ips(&self.ips.get_untracked()), alert_thresholds })
            });
        self.error.set(parsed.as_ref().err().cloned());
        parsed.ok()
    }

    fn message(self, field: &'static str, outcome: Signal<Option<ApiError>>) -> Signal<Option<String>> {
        Signal::derive(move || {
            self.error.get().filter(|(f, _)| *f == field).map(|(_, m)| m).or_else(|| {
                outcome.get().filter(|e| e.field().is_some_and(|f| f.starts_with(field))).map(|e| e.message())
            })
        })
    }
}

/// Presets with a line each, and under "Custom" every scope in plain words.
#[component]
pub fn ScopePicker(inputs: AccessInputs, #[prop(into)] outcome: Signal<Option<ApiError>>) -> impl IntoView {
    let error = inputs.message("scopes", outcome);
    let picked = inputs.picked;
    let toggle = move |scope: Scope, on: bool| {
        picked.update(|list| {
            list.retain(|s| *s != scope);
            if on {
                list.push(scope);
                // A write scope includes its read scope.
                if let Some(read) = scope.implies()
                    && !list.contains(&read)
                {
                    list.push(read);
                }
            }
        });
    };
    view! {
        <fieldset class="field choice-group scope-picker" class:invalid=move || error.with(Option::is_some) id="scopes">
            <legend>"Access"</legend>
            <p class="hint">"Give the key the least it needs: a leaked key can do what it was allowed to."</p>
            {Preset::ALL.into_iter().map(|preset| view! {
                <label class="choice preset">
                    <input type="radio" name="preset" value=preset.id()
                        prop:checked=move || inputs.preset.get() == preset
                        on:change=move |_| inputs.preset.set(preset)/>
                    <span>
                        <strong>{preset.label()}</strong>
                        {(preset == Preset::ReadOnly).then(|| view! { <span class="badge">"Recommended"</span> })}
                        <span class="choice-hint">{preset.explain()}</span>
                    </span>
                </label>
            }).collect_view()}
            <Show when=move || inputs.preset.get() == Preset::Custom>
                <div class="scope-list">
                    {Scope::ALL.into_iter().map(|scope| {
                        // A read scope that a picked write scope includes cannot be unticked alone.
                        let implied = move || picked.with(|l| l.iter().any(|s| s.implies() == Some(scope)));
                        view! {
                            <label class="choice scope">
                                <input type="checkbox" name="scope" value=scope.as_str()
                                    prop:checked=move || picked.with(|l| l.contains(&scope))
                                    prop:disabled=implied
                                    on:change=move |ev| toggle(scope, event_target_checked(&ev))/>
                                <span><code>{scope.as_str()}</code> <span class="choice-hint">{scope.describe()}</span></span>
                            </label>
                        }
                    }).collect_view()}
                </div>
            </Show>
            {move || error.get().map(|m| view! { <p class="field-error">{m}</p> })}
        </fieldset>
    }
}

/// The alerts to send with a key's limit: alerts are percentages of the monthly limit, so a key
/// without one has none (the server refuses them) and the form sends none.
pub fn alerts_to_send(limit: Option<u64>, typed: Vec<u8>) -> Option<Vec<u8>> {
    limit.map(|_| typed)
}

/// A key's alerts as its page says them.
pub fn alerts_summary(limit: Option<u64>, thresholds: &[u8]) -> String {
    match (limit, thresholds) {
        (None, _) => "None (they need a monthly limit)".to_owned(),
        (Some(_), []) => "None".to_owned(),
        (Some(_), list) => {
            let list: Vec<String> = list.iter().map(|p| format!("{p}%")).collect();
            format!("At {} of the monthly limit", list.join(", "))
        }
    }
}

/// The allowlist editor and the alert thresholds (shown while a monthly limit is typed).
#[component]
pub fn AccessFields(
    inputs: AccessInputs,
    #[prop(into)] outcome: Signal<Option<ApiError>>,
    /// Whether the form has a monthly limit: alerts are percentages of it.
    #[prop(into)]
    limited: Signal<bool>,
) -> impl IntoView {
    let ips_error = inputs.message("allowed_ips", outcome);
    let thresholds_error = inputs.message("alert_thresholds", outcome);
    view! {
        <div class="field" class:invalid=move || ips_error.with(Option::is_some)>
            <label for="allowed_ips">"Allowed IP addresses" <span class="optional">" (optional)"</span></label>
            <textarea id="allowed_ips" name="allowed_ips" rows="3" spellcheck="false" bind:value=inputs.ips
                aria-describedby="allowed_ips-hint"
                aria-invalid=move || ips_error.with(Option::is_some).then_some("true")></textarea>
            <p class="hint" id="allowed_ips-hint">
                "One per line: addresses or CIDR blocks, IPv4 or IPv6, e.g. 203.0.113.0/24. Requests from anywhere else get 403. Empty: any address."
            </p>
            {move || ips_error.get().map(|m| view! { <p class="field-error">{m}</p> })}
        </div>
        <Show when=move || limited.get()
            fallback=|| view! { <p class="hint" data-alerts="need-limit">"Usage alerts: set a monthly limit to get them; they are percentages of it."</p> }>
            <div class="field" class:invalid=move || thresholds_error.with(Option::is_some)>
                <label for="alert_thresholds">"Usage alerts" <span class="optional">" (optional)"</span></label>
                <input id="alert_thresholds" name="alert_thresholds" type="text" autocomplete="off"
                    bind:value=inputs.thresholds aria-describedby="alert_thresholds-hint"
                    aria-invalid=move || thresholds_error.with(Option::is_some).then_some("true")/>
                <p class="hint" id="alert_thresholds-hint">
                    "Percent of the monthly limit at which owners and admins get a mail, once a month each, e.g. 80, 100. Empty: no alerts."
                </p>
                {move || thresholds_error.get().map(|m| view! { <p class="field-error">{m}</p> })}
            </div>
        </Show>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    #[wasm_bindgen_test]
    fn presets_and_typed_settings_become_the_apis() {
        assert_eq!(preset_of(&Scope::ALL), Preset::Full);
        assert_eq!(preset_of(&read_only_scopes()), Preset::ReadOnly);
        assert_eq!(preset_of(&[Scope::TeamRead]), Preset::Custom);
        assert_eq!(scopes_for(Preset::ReadOnly, &[]).unwrap().len(), 7);
        assert!(scopes_for(Preset::Custom, &[]).is_err());
        assert_eq!(
            scopes_for(Preset::Custom, &[Scope::UsageRead, Scope::TeamRead]).unwrap(),
            vec![Scope::TeamRead, Scope::UsageRead],
            "in the table's order"
        );
        assert_eq!(scope_summary(&[Scope::TeamRead]), "Custom: team:read");
        assert_eq!(scope_summary(&Scope::ALL), "Full access");
        assert_eq!(parse_ips(" 10.0.0.0/8,\n2001:db8::1  \n\n"), vec!["10.0.0.0/8", "2001:db8::1"]);
        assert_eq!(parse_thresholds("100, 80%, 80"), Ok(vec![80, 100]));
        assert_eq!(parse_thresholds(""), Ok(vec![]));
        assert!(parse_thresholds("0").is_err() && parse_thresholds("101").is_err() && parse_thresholds("x").is_err());
    }

    #[wasm_bindgen_test]
    fn alerts_go_with_a_monthly_limit_only() {
        assert_eq!(alerts_to_send(None, vec![80, 100]), None, "no limit: no alerts sent");
        assert_eq!(alerts_to_send(Some(1_000), vec![50]), Some(vec![50]));
        assert_eq!(alerts_to_send(Some(1_000), vec![]), Some(vec![]));
        assert_eq!(alerts_summary(None, &[80, 100]), "None (they need a monthly limit)");
        assert_eq!(alerts_summary(Some(10), &[]), "None");
        assert_eq!(alerts_summary(Some(10), &[80, 100]), "At 80%, 100% of the monthly limit");
    }
}
