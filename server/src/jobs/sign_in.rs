//! Waiting for sign-in, the decisions: on which sides a person has to sign in again after an
//! attempt stopped for a gone grant, and how the wait's bound reads in the failure's cause.
//! Pure.

use std::time::Duration;

use mailcopy::StopKind;

use super::store_trait::Side;

/// How long a job waits for someone to sign in again before it fails.
pub const DEFAULT_SIGN_IN_WAIT: Duration = Duration::from_secs(3 * 24 * 3600);

/// What one side's token source saw during the attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SideTokens {
    pub side: Side,
    /// The side signs in with OAuth2 (else a password: never the one to sign in again).
    pub oauth2: bool,
    /// The provider refused to refresh the grant (revoked, expired, `invalid_grant`), or
    /// there is no refresh token to try.
    pub grant_gone: bool,
    /// The server refused a token and a renewed one was asked for.
    pub token_refused: bool,
}

/// The sides to sign in again on, for an attempt that stopped with `kind` (`SignInNeeded` or
/// `TokenRefused`): those whose grant is gone; else those whose tokens the server refused;
/// else every OAuth2 side (the stop says a token was refused, not whose).
pub fn sides_to_sign_in(kind: StopKind, sides: &[SideTokens]) -> Vec<Side> {
    let pick = |f: &dyn Fn(&SideTokens) -> bool| -> Vec<Side> {
        sides
            .iter()
            .filter(|s| s.oauth2 && f(s))
            .map(|s| s.side)
            .collect()
    };
    let gone = pick(&|s| s.grant_gone);
    if !gone.is_empty() {
        return gone;
    }
    if kind == StopKind::TokenRefused {
        let refused = pick(&|s| s.token_refused);
        if !refused.is_empty() {
            return refused;
        }
    }
    pick(&|_| true)
}

/// The bound in words: "3 days", "1 hour", "90 seconds".
pub fn describe_wait(wait: Duration) -> String {
    let secs = wait.as_secs();
    let (n, unit) = match secs {
        0 => (0, "second"),
        s if s % 86_400 == 0 => (s / 86_400, "day"),
        s if s % 3_600 == 0 => (s / 3_600, "hour"),
        s if s % 60 == 0 => (s / 60, "minute"),
        s => (s, "second"),
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

/// The cause a job fails with when nobody signed in again within `wait`.
pub fn timeout_cause(wait: Duration) -> String {
    format!("nobody signed in again within {}", describe_wait(wait))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn side(side: Side, oauth2: bool, grant_gone: bool, token_refused: bool) -> SideTokens {
        SideTokens {
            side,
            oauth2,
            grant_gone,
            token_refused,
        }
    }

    #[test]
    fn the_side_whose_grant_is_gone_first() {
        use Side::{Destination as D, Source as S};
        let k = StopKind::SignInNeeded;
        assert_eq!(
            sides_to_sign_in(k, &[side(S, true, false, true), side(D, true, true, true)]),
            vec![D]
        );
        assert_eq!(
            sides_to_sign_in(k, &[side(S, true, true, false), side(D, true, true, false)]),
            vec![S, D]
        );
        // A refused token with both grants alive: the side whose token was refused.
        let t = StopKind::TokenRefused;
        assert_eq!(
            sides_to_sign_in(
                t,
                &[side(S, true, false, false), side(D, true, false, true)]
            ),
            vec![D]
        );
        // Nothing recorded: every OAuth2 side, never a password side.
        assert_eq!(
            sides_to_sign_in(
                t,
                &[side(S, false, false, true), side(D, true, false, false)]
            ),
            vec![D]
        );
        assert_eq!(
            sides_to_sign_in(
                k,
                &[side(S, true, false, false), side(D, false, false, false)]
            ),
            vec![S]
        );
        assert!(sides_to_sign_in(k, &[side(S, false, false, false)]).is_empty());
    }

    #[test]
    fn bounds_in_words() {
        assert_eq!(describe_wait(DEFAULT_SIGN_IN_WAIT), "3 days");
        assert_eq!(describe_wait(Duration::from_secs(86_400)), "1 day");
        assert_eq!(describe_wait(Duration::from_secs(7_200)), "2 hours");
        assert_eq!(describe_wait(Duration::from_secs(60)), "1 minute");
        assert_eq!(describe_wait(Duration::from_millis(1_500)), "1 second");
        assert_eq!(describe_wait(Duration::from_secs(90)), "90 seconds");
        assert_eq!(describe_wait(Duration::ZERO), "0 seconds");
        assert_eq!(
            timeout_cause(DEFAULT_SIGN_IN_WAIT),
            "nobody signed in again within 3 days"
        );
    }
}
