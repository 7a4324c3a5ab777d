//! Bearer sessions (feature `jwt`): signing a client in with a token pair instead of a
//! cookie, and exchanging a refresh token for the next pair.

use std::borrow::Cow;
use std::time::SystemTime;

use super::load::expiry;
use super::refresh_history::{PastUse, RefreshHistory, DATA_KEY};
use super::Session;
use crate::audit::AuditKind;
use crate::config;
use crate::error::{AccessTokenError, RefreshRefused, SessionError};
use crate::store::{Admission, EndReason, EndTarget, Ended, SessionPatch};
use crate::timeout_policy::Login;
use crate::token::{generate_id, AccessTokens, BearerTokens, RefreshToken};

impl Session {
    /// Signs a bearer client in (feature `jwt`): starts a new session for the user, with the
    /// same timeouts, session limits and audit as [`login`](Self::login), and returns its
    /// token pair instead of setting a cookie. The request's own session, if it has one, is
    /// left as it is.
    ///
    /// The access token is a JWT of the layer's
    /// [`AccessTokens`](crate::token::AccessTokens); the refresh token is opaque, stored
    /// hashed, and obtains the next pair once through
    /// [`refresh_bearer`](Self::refresh_bearer). Answer with `Json(tokens)`: it serializes
    /// as an OAuth 2.0 token response.
    ///
    /// ```
    /// # #[cfg(feature = "jwt")] {
    /// use axum::Json;
    /// use sessionward::token::BearerTokens;
    /// use sessionward::{Session, SessionError};
    ///
    /// async fn token(session: Session) -> Result<Json<BearerTokens>, SessionError> {
    ///     // … check the credentials first …
    ///     Ok(Json(session.sign_in_bearer("alice").await?))
    /// }
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`SessionError::AccessToken`] when the layer has no `AccessTokens` or the token cannot
    /// be made, [`SessionError::SessionLimit`] when a limit refuses the login, and the errors
    /// of [`login`](Self::login).
    pub async fn sign_in_bearer(
        &self,
        login: impl Into<Login>,
    ) -> Result<BearerTokens, SessionError> {
        let tokens = self.bearer_tokens()?;
        let shared = &self.inner.shared;
        let login = login.into();
        let now = SystemTime::now();
        let (timeouts, terms) = shared.config.choose_timeouts(&login, false);
        let (expires_at, idle_expires_at) = config::deadlines(now, &timeouts);
        let user = login.into_user();
        let id = generate_id();
        let refresh = RefreshToken::generate(id)?;
        // Issued before anything is stored: a failure leaves no session behind.
        let access = issue(tokens, &user, id, now)?;
        let key = refresh.hash();
        let mut record = self.new_record(id, Some(user), now);
        record.expires_at = expires_at;
        record.idle_expires_at = idle_expires_at;
        record.terms = terms;
        let user = record.user.clone().unwrap_or_default();
        let limits = &shared.config.limits;
        if limits.is_set() {
            let admission = Admission::Create { key: &key, record };
            self.admitted(
                &user,
                shared.store.admit(&user, admission, limits, now).await?,
            )?;
        } else {
            shared.store.create(&key, record).await?;
        }
        self.audit(
            AuditKind::Login,
            Some(id),
            Some(&user),
            Some("bearer".into()),
        );
        Ok(BearerTokens::new(access, refresh))
    }

    /// Exchanges a bearer session's refresh token for a new pair (feature `jwt`).
    ///
    /// The refresh token is single use: the session moves to the new one atomically in the
    /// store, so of two requests presenting the same token at most one gets a pair. The
    /// refresh counts as activity (the idle deadline moves on); the absolute deadline never
    /// moves.
    ///
    /// A token that was used already is told apart from a forged or unknown one by the
    /// session's history of used tokens (the last 64), and then:
    ///
    /// - the token used last, presented again within the
    ///   [`refresh_race_window`](crate::token::AccessTokens::refresh_race_window) (2 s by
    ///   default): taken for two requests of one client racing, and refused with
    ///   [`RefreshRefused::Race`] (409), changing nothing; the winner holds the new pair;
    /// - otherwise: reuse, a sign the token was stolen (RFC 9700 section 4.14). The whole
    ///   session is revoked, which ends its access tokens and its current refresh token, and a
    ///   `refresh_reuse` event is audited. [`RefreshRefused::Reused`] (401).
    ///
    /// # Errors
    /// [`SessionError::Refresh`] when the token is refused, [`SessionError::AccessToken`]
    /// when the layer has no `AccessTokens`, [`SessionError::Store`] when the store fails.
    pub async fn refresh_bearer(&self, refresh_token: &str) -> Result<BearerTokens, SessionError> {
        let tokens = self.bearer_tokens()?;
        let now = SystemTime::now();
        let Some(presented) = RefreshToken::parse(refresh_token) else {
            self.audit_invalid_token("refresh_malformed");
            return Err(SessionError::Refresh(RefreshRefused::Invalid));
        };
        let store = &self.inner.shared.store;
        let key = presented.hash();
        if let Some(record) = store.load(&key).await? {
            let user = match &record.user {
                Some(user) if record.id == presented.session_id() => user.clone(),
                _ => {
                    self.audit_invalid_token("unknown");
                    return Err(SessionError::Refresh(RefreshRefused::Invalid));
                }
            };
            if !record.is_active(now) {
                let ended = expiry(&record, now);
                let reported = self.expiry(&record, &ended);
                if store.end(EndTarget::Key(&key), ended).await? > 0 {
                    self.audit_expiry(reported);
                }
                return Err(SessionError::Refresh(RefreshRefused::Expired));
            }
            let next = RefreshToken::generate(record.id)?;
            let access = issue(tokens, &user, record.id, now)?;
            let mut history = RefreshHistory::of(&record.data);
            history.push(&key, now);
            let idle = record
                .terms
                .map_or(self.inner.shared.config.idle_timeout(), |t| t.idle_timeout);
            let patch = SessionPatch {
                data: vec![(DATA_KEY.to_owned(), Some(history.to_raw()?))],
                last_seen_at: Some(now),
                idle_expires_at: Some(config::idle_deadline(now, idle, record.expires_at)),
                ..SessionPatch::default()
            };
            if store.rotate(&key, &next.hash(), &patch).await? {
                let reason = Some(Cow::Borrowed("refresh"));
                self.audit(AuditKind::Rotated, Some(record.id), Some(&user), reason);
                return Ok(BearerTokens::new(access, next));
            }
            // A concurrent refresh moved the session first (or it ended): the token is no key
            // any more, so it is judged as a used one below.
        }
        self.judge_used(tokens, &presented, now).await
    }

    /// The answer to a refresh token that is no session's key: unknown, a race, or reuse.
    async fn judge_used(
        &self,
        tokens: &AccessTokens,
        presented: &RefreshToken,
        now: SystemTime,
    ) -> Result<BearerTokens, SessionError> {
        let store = &self.inner.shared.store;
        let id = presented.session_id();
        let key = presented.hash();
        let past = match store.load_by_id(&id).await? {
            // The session is still known by this token: a concurrent refresh of it is moving
            // the session right now (a store whose rotation takes steps shows it meanwhile).
            Some((current, record)) if current == key => Some((PastUse::InFlight, record.user)),
            Some((_, record)) => RefreshHistory::of(&record.data)
                .past_use(&key, now)
                .map(|past| (past, record.user)),
            None => None,
        };
        let refused = match past {
            None => {
                self.audit_invalid_token("unknown");
                RefreshRefused::Invalid
            }
            // A rotation in flight is a race whatever the window; a finished one only within
            // it (strictly, so a zero window makes every second presentation reuse).
            Some((PastUse::InFlight, _)) => self.refuse_race(),
            Some((PastUse::Last(ago), _)) if ago < tokens.race_window() => self.refuse_race(),
            Some((_, user)) => {
                // Listed before the store call, so this instance refuses the session's access
                // tokens from now on also in the stateless mode.
                tokens.deny_session(id, now);
                let ended = Ended::new(now, EndReason::Revoked);
                store.end(EndTarget::Id(&id), ended).await?;
                self.audit(AuditKind::RefreshReuse, Some(id), user.as_deref(), None);
                RefreshRefused::Reused
            }
        };
        Err(SessionError::Refresh(refused))
    }

    fn refuse_race(&self) -> RefreshRefused {
        self.audit_invalid_token("refresh_race");
        RefreshRefused::Race
    }

    fn bearer_tokens(&self) -> Result<&AccessTokens, SessionError> {
        self.inner
            .shared
            .config
            .access_tokens
            .as_ref()
            .ok_or(SessionError::AccessToken(AccessTokenError::NotConfigured))
    }
}

fn issue(
    tokens: &AccessTokens,
    user: &str,
    id: crate::token::SessionId,
    now: SystemTime,
) -> Result<crate::token::IssuedToken, SessionError> {
    tokens
        .issue(user, id, now)
        .map_err(|err| SessionError::AccessToken(AccessTokenError::Issue(err)))
}
