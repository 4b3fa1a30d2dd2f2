"""schemathesis hooks of `make contract` (contract/run.py loads them with SCHEMATHESIS_HOOKS).

schemathesis' own `positive_data_acceptance` takes allowances as whole statuses of whole
operations: "422 is fine for POST /webhooks" also let through every other 422 of that operation,
a spec bug included. This check replaces it (schemathesis.toml turns the built-in off): valid data
must be accepted (2xx, 3xx), or refused for who is asking or what exists (401, 403, 404, 409,
429; 5xx are `not_a_server_error`'s), or refused with exactly one of the problems below, each a
rule that a JSON Schema does not state, named by operation, status, problem code and field.
"""

import schemathesis
from schemathesis.specs.openapi.checks import is_unexpected_http_status_case

ALLOWED = {
    # A token of the right shape that names nothing.
    ("POST /api/v1/auth/verify-email", 400, "invalid_token", "token"),
    ("POST /api/v1/auth/reset-password", 400, "invalid_token", "token"),
    # A usage range across fields: `from` not before `to` or too far back, hour buckets over 31 days.
    ("GET /api/v1/teams/{team_id}/usage", 422, "validation_failed", "from"),
    ("GET /api/v1/teams/{team_id}/usage", 422, "validation_failed", "granularity"),
    ("GET /api/v1/teams/{team_id}/api-keys/{key_id}/usage", 422, "validation_failed", "from"),
    ("GET /api/v1/teams/{team_id}/api-keys/{key_id}/usage", 422, "validation_failed", "granularity"),
    # An activity range whose `from` is not before its `to`.
    ("GET /api/v1/teams/{team_id}/activity", 422, "validation_failed", "from"),
    # A webhook URL whose host is a private, loopback or link-local address.
    ("POST /api/v1/teams/{team_id}/webhooks", 422, "validation_failed", "url"),
    ("PATCH /api/v1/teams/{team_id}/webhooks/{endpoint_id}", 422, "validation_failed", "url"),
    # An identity provider's issuer whose discovery document cannot be fetched (the portal asks it
    # before storing anything; the generated hosts do not exist).
    ("POST /api/v1/teams/{team_id}/sso/connections", 422, "validation_failed", "issuer"),
    ("PATCH /api/v1/teams/{team_id}/sso/connections/{connection_id}", 422, "validation_failed", "issuer"),
    # A connection's fields depend on its protocol (the document says which): OpenID Connect
    # requires issuer, client_id and client_secret and refuses the SAML fields; SAML requires IdP
    # metadata (pasted, or its URL) that parses and names a signing certificate, and refuses the
    # OpenID Connect fields. The generated metadata is never an IdP's, its URLs never answer.
    ("POST /api/v1/teams/{team_id}/sso/connections", 422, "validation_failed", "client_id"),
    ("POST /api/v1/teams/{team_id}/sso/connections", 422, "validation_failed", "client_secret"),
    ("POST /api/v1/teams/{team_id}/sso/connections", 422, "validation_failed", "idp_metadata"),
    ("POST /api/v1/teams/{team_id}/sso/connections", 422, "validation_failed", "idp_metadata_url"),
    ("POST /api/v1/teams/{team_id}/sso/connections", 422, "validation_failed", "allow_idp_initiated"),
    ("PATCH /api/v1/teams/{team_id}/sso/connections/{connection_id}", 422, "validation_failed", "idp_metadata"),
    ("PATCH /api/v1/teams/{team_id}/sso/connections/{connection_id}", 422, "validation_failed", "idp_metadata_url"),
    ("PATCH /api/v1/teams/{team_id}/sso/connections/{connection_id}", 422, "validation_failed", "allow_idp_initiated"),
    # Alert thresholds need a monthly limit: the request's own, or (PATCH) the key's stored one.
    ("POST /api/v1/teams/{team_id}/api-keys", 422, "validation_failed", "alert_thresholds"),
    ("PATCH /api/v1/teams/{team_id}/api-keys/{key_id}", 422, "validation_failed", "alert_thresholds"),
    # A current password that is wrong.
    ("POST /api/v1/me/password", 422, "wrong_password", "current_password"),
    ("POST /api/v1/me/two-factor/setup", 422, "wrong_password", "password"),
    ("POST /api/v1/me/two-factor/disable", 422, "wrong_password", "password"),
    ("POST /api/v1/me/two-factor/recovery-codes", 422, "wrong_password", "password"),
    # A code that is neither the app's code of this time nor an unused recovery code.
    ("POST /api/v1/me/two-factor/enable", 422, "invalid_two_factor_code", "code"),
    ("POST /api/v1/me/two-factor/disable", 422, "invalid_two_factor_code", "code"),
    ("POST /api/v1/auth/login/two-factor", 422, "invalid_two_factor_code", "code"),
}

ACCEPTED = {401, 403, 404, 409, 429}


@schemathesis.check
def positive_data_acceptance_pinned(ctx, response, case):
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or is_unexpected_http_status_case(case):
        return None
    status = response.status_code
    if status < 400 or status >= 500 or status in ACCEPTED:
        return None
    try:
        body = response.json()
    except ValueError:
        body = None
    code = body.get("code") if isinstance(body, dict) else None
    field = body.get("field") if isinstance(body, dict) else None
    if (case.operation.label, status, code, field) in ALLOWED:
        return None
    raise AssertionError(
        f"Valid data was refused with {status} `{code}` naming `{field}`, which no allowance of "
        f"contract/hooks.py names for {case.operation.label}: the document should state the rule"
    )
