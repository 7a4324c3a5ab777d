//! What a session cookie's value holds, for tests that look inside it.

/// The opaque session token a session cookie's value carries: the value itself, or the `tok`
/// claim of a JWT cookie (`SessionLayer::jwt_cookies`, the demo's SESSIONWARD_COOKIE_TOKEN=jwt).
pub fn opaque_token(cookie_value: &str) -> sessionward::token::SessionToken {
    use base64::Engine as _;
    let text = match cookie_value.split('.').nth(1) {
        None => cookie_value.to_owned(),
        Some(payload) => {
            let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(payload)
                .expect("a JWT cookie's payload is base64url");
            let claims: serde_json::Value = serde_json::from_slice(&json).unwrap();
            claims["tok"].as_str().expect("a tok claim").to_owned()
        }
    };
    sessionward::token::SessionToken::parse(text.as_bytes()).expect("an opaque token")
}
