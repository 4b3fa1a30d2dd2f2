//! Single sign-on: a team's connections, the flows under way, and the identities they link.

use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, Set,
};
use uuid::Uuid;

use crate::entity::saml_assertion::{self, Entity as Assertions};
use crate::entity::sso_connection::{self, Entity as Connections};
use crate::entity::sso_flow::{self, Entity as Flows};
use crate::entity::sso_identity::{self, Entity as Identities};
use crate::{Error, Result, Timestamp};

pub type Connection = sso_connection::Model;
pub type Flow = sso_flow::Model;

/// The most connections a team may have (one for now; the API lists them).
pub const MAX_CONNECTIONS: u64 = 1;

/// A connection as configured. For SAML, `issuer` is the IdP's entity id, `client_id` is empty
/// and `client_secret_sealed` holds the portal's private key for the connection.
pub struct NewConnection<'a> {
    pub team_id: Uuid,
    pub protocol: &'a str,
    pub name: &'a str,
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub client_secret_sealed: &'a str,
    pub saml: Option<SamlParts<'a>>,
}

/// What a SAML connection keeps besides.
pub struct SamlParts<'a> {
    /// None until the admin gives it.
    pub idp_metadata: Option<&'a str>,
    pub metadata_url: Option<&'a str>,
    pub certificate: &'a str,
    pub allow_idp_initiated: bool,
}

pub async fn list(db: &impl ConnectionTrait, team_id: Uuid) -> Result<Vec<Connection>> {
    Ok(Connections::find()
        .filter(sso_connection::Column::TeamId.eq(team_id))
        .order_by_asc(sso_connection::Column::CreatedAt)
        .order_by_asc(sso_connection::Column::Id)
        .all(db)
        .await?)
}

pub async fn count(db: &impl ConnectionTrait, team_id: Uuid) -> Result<u64> {
    Ok(Connections::find().filter(sso_connection::Column::TeamId.eq(team_id)).count(db).await?)
}

/// The connection `id` of `team_id`.
pub async fn find(db: &impl ConnectionTrait, team_id: Uuid, id: Uuid) -> Result<Option<Connection>> {
    Ok(Connections::find_by_id(id).filter(sso_connection::Column::TeamId.eq(team_id)).one(db).await?)
}

/// The connection `id`, whatever its team.
pub async fn find_any(db: &impl ConnectionTrait, id: Uuid) -> Result<Option<Connection>> {
    Ok(Connections::find_by_id(id).one(db).await?)
}

/// Stores a connection under `id` (its secret was sealed for that id).
pub async fn create(db: &impl ConnectionTrait, id: Uuid, new: NewConnection<'_>, now: Timestamp) -> Result<Connection> {
    sso_connection::ActiveModel {
        id: Set(id),
        team_id: Set(new.team_id),
        protocol: Set(new.protocol.to_owned()),
        name: Set(new.name.to_owned()),
        issuer: Set(new.issuer.to_owned()),
        client_id: Set(new.client_id.to_owned()),
        client_secret_sealed: Set(new.client_secret_sealed.to_owned()),
        created_at: Set(now),
        updated_at: Set(now),
        last_sign_in_at: Set(None),
        tested_at: Set(None),
        test_claims: Set(None),
        test_error: Set(None),
        saml_idp_metadata: Set(new.saml.as_ref().and_then(|s| s.idp_metadata.map(str::to_owned))),
        saml_metadata_url: Set(new.saml.as_ref().and_then(|s| s.metadata_url.map(str::to_owned))),
        saml_certificate: Set(new.saml.as_ref().map(|s| s.certificate.to_owned())),
        allow_idp_initiated: Set(new.saml.as_ref().is_some_and(|s| s.allow_idp_initiated)),
    }
    .insert(db)
    .await
    .map_err(Error::from_insert)
}

/// Replaces what the admin configures (name, issuer, client). A changed provider (issuer or
/// client id) is another provider: its last test and sign-in no longer say anything, and the
/// users linked to the old one (their subjects mean nothing at the new one) and flows under way
/// go, so that nobody can point the connection at a provider of their own and sign in as a linked
/// user. Returns whether the provider changed (the caller ends its sessions).
pub async fn update(db: &impl ConnectionTrait, id: Uuid, new: NewConnection<'_>, now: Timestamp) -> Result<bool> {
    let Some(found) = Connections::find_by_id(id).one(db).await? else { return Ok(false) };
    let provider_changed = found.issuer != new.issuer || found.client_id != new.client_id;
    let mut active: sso_connection::ActiveModel = found.into();
    active.name = Set(new.name.to_owned());
    active.issuer = Set(new.issuer.to_owned());
    active.client_id = Set(new.client_id.to_owned());
    active.client_secret_sealed = Set(new.client_secret_sealed.to_owned());
    if let Some(saml) = &new.saml {
        active.saml_idp_metadata = Set(saml.idp_metadata.map(str::to_owned));
        active.saml_metadata_url = Set(saml.metadata_url.map(str::to_owned));
        active.saml_certificate = Set(Some(saml.certificate.to_owned()));
        active.allow_idp_initiated = Set(saml.allow_idp_initiated);
    }
    active.updated_at = Set(now);
    if provider_changed {
        active.tested_at = Set(None);
        active.test_claims = Set(None);
        active.test_error = Set(None);
        active.last_sign_in_at = Set(None);
        Identities::delete_many().filter(sso_identity::Column::ConnectionId.eq(id)).exec(db).await?;
        Flows::delete_many().filter(sso_flow::Column::ConnectionId.eq(id)).exec(db).await?;
    }
    active.update(db).await?;
    Ok(provider_changed)
}

pub async fn remove(db: &impl ConnectionTrait, id: Uuid) -> Result<()> {
    Connections::delete_by_id(id).exec(db).await?;
    Ok(())
}

/// Records a test's outcome: the claims received (JSON) or why it failed.
pub async fn record_test(
    db: &impl ConnectionTrait,
    id: Uuid,
    outcome: std::result::Result<&str, &str>,
    now: Timestamp,
) -> Result<()> {
    let (claims, error) = match outcome {
        Ok(claims) => (Some(claims.to_owned()), None),
        Err(why) => (None, Some(why.chars().take(500).collect::<String>())),
    };
    Connections::update_many()
        .col_expr(sso_connection::Column::TestedAt, Expr::value(now))
        .col_expr(sso_connection::Column::TestClaims, Expr::value(claims))
        .col_expr(sso_connection::Column::TestError, Expr::value(error))
        .filter(sso_connection::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

pub async fn record_sign_in(db: &impl ConnectionTrait, id: Uuid, now: Timestamp) -> Result<()> {
    Connections::update_many()
        .col_expr(sso_connection::Column::LastSignInAt, Expr::value(now))
        .filter(sso_connection::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// A flow about to leave for the provider.
pub struct NewFlow<'a> {
    pub state_hash: &'a str,
    pub connection_id: Uuid,
    pub purpose: &'a str,
    pub nonce: &'a str,
    pub verifier_sealed: &'a str,
    pub browser_hash: &'a str,
    pub login_hint: Option<&'a str>,
    pub started_by: Option<Uuid>,
    pub expires_at: Timestamp,
}

pub async fn start_flow(db: &impl ConnectionTrait, new: NewFlow<'_>, now: Timestamp) -> Result<Flow> {
    sso_flow::ActiveModel {
        id: Set(Uuid::new_v4()),
        state_hash: Set(new.state_hash.to_owned()),
        connection_id: Set(new.connection_id),
        purpose: Set(new.purpose.to_owned()),
        nonce: Set(new.nonce.to_owned()),
        verifier_sealed: Set(new.verifier_sealed.to_owned()),
        browser_hash: Set(Some(new.browser_hash.to_owned())),
        login_hint: Set(new.login_hint.map(str::to_owned)),
        started_by: Set(new.started_by),
        created_at: Set(now),
        expires_at: Set(new.expires_at),
        used_at: Set(None),
        link_hash: Set(None),
        link_user_id: Set(None),
        link_subject: Set(None),
        linked_at: Set(None),
        asserted_sealed: Set(None),
    }
    .insert(db)
    .await
    .map_err(Error::from_insert)
}

/// The flow of a `state`, used or not (the caller tells why it is refused).
pub async fn flow_by_state(db: &impl ConnectionTrait, state_hash: &str) -> Result<Option<Flow>> {
    Ok(Flows::find().filter(sso_flow::Column::StateHash.eq(state_hash)).one(db).await?)
}

/// Marks a flow used; false when it was used already (by this instance or another).
pub async fn use_flow(db: &impl ConnectionTrait, id: Uuid, now: Timestamp) -> Result<bool> {
    let done = Flows::update_many()
        .col_expr(sso_flow::Column::UsedAt, Expr::value(now))
        .filter(sso_flow::Column::Id.eq(id))
        .filter(sso_flow::Column::UsedAt.is_null())
        .exec(db)
        .await?;
    Ok(done.rows_affected == 1)
}

/// Keeps what a verified SAML response said (sealed) for the browser that started the flow;
/// false when the flow was used or answered already (a second response to one request).
pub async fn assert_flow(db: &impl ConnectionTrait, id: Uuid, asserted_sealed: &str) -> Result<bool> {
    let done = Flows::update_many()
        .col_expr(sso_flow::Column::AssertedSealed, Expr::value(asserted_sealed.to_owned()))
        .filter(sso_flow::Column::Id.eq(id))
        .filter(sso_flow::Column::UsedAt.is_null())
        .filter(sso_flow::Column::AssertedSealed.is_null())
        .exec(db)
        .await?;
    Ok(done.rows_affected == 1)
}

/// Records a SAML assertion taken; false when it was taken before (a replay, on any instance).
pub async fn take_assertion(
    db: &impl ConnectionTrait,
    (id_hash, connection_id): (&str, Uuid),
    expires_at: Timestamp,
) -> Result<bool> {
    let inserted = saml_assertion::ActiveModel {
        id_hash: Set(id_hash.to_owned()),
        connection_id: Set(connection_id),
        expires_at: Set(expires_at),
    }
    .insert(db)
    .await
    .map_err(Error::from_insert);
    match inserted {
        Ok(_) => Ok(true),
        Err(Error::Conflict) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Deletes the ids of assertions that expired before `before` (no replay of them passes the
/// time checks).
pub async fn prune_assertions(db: &impl ConnectionTrait, before: Timestamp) -> Result<u64> {
    Ok(Assertions::delete_many().filter(saml_assertion::Column::ExpiresAt.lt(before)).exec(db).await?.rows_affected)
}

/// Leaves a link to prove: the account `user_id` is linked to `subject` once its password is.
pub async fn offer_link(
    db: &impl ConnectionTrait,
    id: Uuid,
    (link_hash, user_id, subject): (&str, Uuid, &str),
) -> Result<()> {
    Flows::update_many()
        .col_expr(sso_flow::Column::LinkHash, Expr::value(link_hash.to_owned()))
        .col_expr(sso_flow::Column::LinkUserId, Expr::value(user_id))
        .col_expr(sso_flow::Column::LinkSubject, Expr::value(subject.to_owned()))
        .filter(sso_flow::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// The link offered under `link_hash`, unless used or expired.
pub async fn open_link(db: &impl ConnectionTrait, link_hash: &str, now: Timestamp) -> Result<Option<Flow>> {
    Ok(Flows::find()
        .filter(sso_flow::Column::LinkHash.eq(link_hash))
        .filter(sso_flow::Column::LinkedAt.is_null())
        .filter(sso_flow::Column::ExpiresAt.gt(now))
        .one(db)
        .await?)
}

/// Marks a link used; false when it was used already.
pub async fn close_link(db: &impl ConnectionTrait, id: Uuid, now: Timestamp) -> Result<bool> {
    let done = Flows::update_many()
        .col_expr(sso_flow::Column::LinkedAt, Expr::value(now))
        .filter(sso_flow::Column::Id.eq(id))
        .filter(sso_flow::Column::LinkedAt.is_null())
        .exec(db)
        .await?;
    Ok(done.rows_affected == 1)
}

/// Deletes flows that expired before `before`.
pub async fn prune_flows(db: &impl ConnectionTrait, before: Timestamp) -> Result<u64> {
    Ok(Flows::delete_many().filter(sso_flow::Column::ExpiresAt.lt(before)).exec(db).await?.rows_affected)
}

/// The account linked to `subject` at the connection.
pub async fn identity(db: &impl ConnectionTrait, connection_id: Uuid, subject: &str) -> Result<Option<Uuid>> {
    Ok(Identities::find()
        .filter(sso_identity::Column::ConnectionId.eq(connection_id))
        .filter(sso_identity::Column::Subject.eq(subject))
        .one(db)
        .await?
        .map(|i| i.user_id))
}

/// Links `subject` at the connection to `user_id`; [`Error::Conflict`] when either is linked
/// already.
pub async fn link(
    db: &impl ConnectionTrait,
    connection_id: Uuid,
    (subject, user_id): (&str, Uuid),
    now: Timestamp,
) -> Result<()> {
    sso_identity::ActiveModel {
        id: Set(Uuid::new_v4()),
        connection_id: Set(connection_id),
        subject: Set(subject.to_owned()),
        user_id: Set(user_id),
        created_at: Set(now),
        last_sign_in_at: Set(now),
    }
    .insert(db)
    .await
    .map_err(Error::from_insert)?;
    Ok(())
}

pub async fn touch_identity(
    db: &impl ConnectionTrait,
    connection_id: Uuid,
    subject: &str,
    now: Timestamp,
) -> Result<()> {
    Identities::update_many()
        .col_expr(sso_identity::Column::LastSignInAt, Expr::value(now))
        .filter(sso_identity::Column::ConnectionId.eq(connection_id))
        .filter(sso_identity::Column::Subject.eq(subject))
        .exec(db)
        .await?;
    Ok(())
}

/// Names of the connections of `ids` (for the sessions list).
pub async fn names(db: &impl ConnectionTrait, ids: &[Uuid]) -> Result<std::collections::HashMap<Uuid, String>> {
    if ids.is_empty() {
        return Ok(Default::default());
    }
    let rows = Connections::find().filter(sso_connection::Column::Id.is_in(ids.iter().copied())).all(db).await?;
    Ok(rows.into_iter().map(|c| (c.id, c.name)).collect())
}

/// Whether `user_id` is linked to one of the team's connections (signs in there with SSO).
pub async fn linked_in_team(db: &impl ConnectionTrait, team_id: Uuid, user_id: Uuid) -> Result<bool> {
    let connections: Vec<Uuid> = list(db, team_id).await?.into_iter().map(|c| c.id).collect();
    if connections.is_empty() {
        return Ok(false);
    }
    let found = Identities::find()
        .filter(sso_identity::Column::UserId.eq(user_id))
        .filter(sso_identity::Column::ConnectionId.is_in(connections))
        .count(db)
        .await?;
    Ok(found > 0)
}
