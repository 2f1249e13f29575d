//! The official test vectors and worked examples of signalwire.md section 4.9, used as the
//! oracle for the production signer and verifier.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method};
use omnichannel_core::signature::SigningKeys;
use omnichannel_core::{VerifyError, WebhookRequest};
use omnichannel_signalwire::webhook::{
    self, Verifier, body_sha256_hex, compute_signature, decode_form, signature_base,
};

const WORKED_KEY: &str = "PSK_ExampleSigningKey0000000000";
const WORKED_URL: &str = "https://hooks.example.com/signalwire/sms?tenant=42";
const WORKED_BODY: &str = "MessageSid=0a059168-ead0-41af-9d1f-343dae832527&SmsSid=0a059168-ead0-41af-9d1f-343dae832527&AccountSid=ea108133-d6b3-407c-9536-9fad8a929a6a&From=%2B15557654321&To=%2B15551234567&Body=Hello+there&NumMedia=0&NumSegments=1";

fn verifier(key: &str) -> Verifier {
    Verifier::new(SigningKeys::new(key), None, 1 << 20, 200)
}

fn request(method: Method, url: &str, header: &str, sig: &str, body: &str) -> WebhookRequest {
    let mut h = HeaderMap::new();
    h.insert(
        http::HeaderName::from_bytes(header.as_bytes()).unwrap(),
        HeaderValue::from_str(sig).unwrap(),
    );
    WebhookRequest::new(method, url, h, Bytes::from(body.to_string()))
}

fn no_params() -> [(&'static str, &'static str); 0] {
    []
}

#[test]
fn vector_b_form() {
    // PY3 security.md / PY2 tests: key 12345, form params, URL with a query.
    let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
    let params = [
        ("CallSid", "CA1234567890ABCDE"),
        ("Caller", "+14158675309"),
        ("Digits", "1234"),
        ("From", "+14158675309"),
        ("To", "+18005551212"),
    ];
    let keys = SigningKeys::new("12345");
    assert_eq!(
        compute_signature(&keys, url, &params),
        "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    );
    let req = webhook::sign_request(&keys, url, &params);
    assert_eq!(
        req.headers["x-signalwire-signature"],
        "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    );
    verifier("12345").verify(&req).unwrap();
}

#[test]
fn vector_b_json_body_sha256() {
    let url = "https://example.ngrok.io/webhook?bodySHA256=69f3cbfc18e386ef8236cb7008cd5a54b7fed637a8cb3373b5a1591d7f0fd5f4";
    let body = r#"{"event":"call.state"}"#;
    assert_eq!(
        body_sha256_hex(body.as_bytes()),
        "69f3cbfc18e386ef8236cb7008cd5a54b7fed637a8cb3373b5a1591d7f0fd5f4"
    );
    let keys = SigningKeys::new("PSKtest1234567890abcdef");
    assert_eq!(
        compute_signature(&keys, url, &no_params()),
        "dfO9ek8mxyFtn2nMz24plPmPfIY="
    );
    let signed =
        webhook::sign_json_request(&keys, "https://example.ngrok.io/webhook", body.as_bytes());
    assert_eq!(signed.url, url);
    assert_eq!(
        signed.headers["x-signalwire-signature"],
        "dfO9ek8mxyFtn2nMz24plPmPfIY="
    );
    let v = verifier("PSKtest1234567890abcdef");
    let req = request(
        Method::POST,
        url,
        "X-SignalWire-Signature",
        "dfO9ek8mxyFtn2nMz24plPmPfIY=",
        body,
    );
    v.verify(&req).unwrap();
    // A body that does not match its signed hash is refused.
    let tampered = request(
        Method::POST,
        url,
        "X-SignalWire-Signature",
        "dfO9ek8mxyFtn2nMz24plPmPfIY=",
        r#"{"event":"call.ended"}"#,
    );
    assert_eq!(
        v.verify(&tampered).unwrap_err(),
        VerifyError::SignatureMismatch
    );
}

#[test]
fn vector_a_hex_over_url_and_raw_body() {
    let url = "https://example.ngrok.io/webhook";
    let body = r#"{"event":"call.state","params":{"call_id":"abc-123","state":"answered"}}"#;
    let sig = "c3c08c1fefaf9ee198a100d5906765a6f394bf0f";
    let v = verifier("PSKtest1234567890abcdef");
    v.verify(&request(
        Method::POST,
        url,
        "X-SignalWire-Signature",
        sig,
        body,
    ))
    .unwrap();
    let changed = body.replace("answered", "ended");
    assert_eq!(
        v.verify(&request(
            Method::POST,
            url,
            "X-SignalWire-Signature",
            sig,
            &changed
        ))
        .unwrap_err(),
        VerifyError::SignatureMismatch
    );
}

#[test]
fn worked_example_inbound_sms() {
    let keys = SigningKeys::new(WORKED_KEY);
    let params: Vec<(String, String)> = decode_form(WORKED_BODY.as_bytes(), 100)
        .unwrap()
        .into_iter()
        .map(|(k, v)| (String::from_utf8(k).unwrap(), String::from_utf8(v).unwrap()))
        .collect();
    assert_eq!(
        String::from_utf8(signature_base(WORKED_URL, &params)).unwrap(),
        "https://hooks.example.com/signalwire/sms?tenant=42AccountSidea108133-d6b3-407c-9536-9fad8a929a6aBodyHello thereFrom+15557654321MessageSid0a059168-ead0-41af-9d1f-343dae832527NumMedia0NumSegments1SmsSid0a059168-ead0-41af-9d1f-343dae832527To+15551234567"
    );
    assert_eq!(
        compute_signature(&keys, WORKED_URL, &params),
        "mq+OkdFYzZeY1gr8xVd053EWf9c="
    );
    assert_eq!(
        compute_signature(
            &keys,
            "https://hooks.example.com:443/signalwire/sms?tenant=42",
            &params
        ),
        "YFwn9yyKfd1LoeIo3lc7gq48T70="
    );
    let v = verifier(WORKED_KEY);
    for sig in [
        "mq+OkdFYzZeY1gr8xVd053EWf9c=",
        "YFwn9yyKfd1LoeIo3lc7gq48T70=",
    ] {
        for url in [
            WORKED_URL,
            "https://hooks.example.com:443/signalwire/sms?tenant=42",
        ] {
            for header in ["X-SignalWire-Signature", "X-Twilio-Signature"] {
                v.verify(&request(Method::POST, url, header, sig, WORKED_BODY))
                    .unwrap_or_else(|e| panic!("{url} {header} {sig}: {e}"));
            }
        }
    }
    // The hex scheme over URL + raw body (section 4.9) is accepted as the SDKs accept it.
    v.verify(&request(
        Method::POST,
        WORKED_URL,
        "X-SignalWire-Signature",
        "f9b2a06dee8e4df4a14218c1e2159c8af35dce1a",
        WORKED_BODY,
    ))
    .unwrap();
}

#[test]
fn worked_example_status_callback() {
    let keys = SigningKeys::new(WORKED_KEY);
    let params = [
        ("MessageSid", "6f1b2c3d-0000-4000-8000-000000000003"),
        ("AccountSid", "ea108133-d6b3-407c-9536-9fad8a929a6a"),
        ("From", "+15551234567"),
        ("To", "+15557654321"),
        ("Body", "Your code is 1234"),
        ("NumMedia", "0"),
        ("NumSegments", "1"),
        ("MessageStatus", "undelivered"),
        ("ErrorCode", "30003"),
    ];
    assert_eq!(
        compute_signature(
            &keys,
            "https://hooks.example.com/signalwire/status",
            &params
        ),
        "vNRhgNUii2d7TA1eZYBk25req00="
    );
}

#[test]
fn negatives_at_the_verifier() {
    let v = verifier(WORKED_KEY);
    let ok = "mq+OkdFYzZeY1gr8xVd053EWf9c=";
    let mismatch = |url: &str, body: &str| {
        v.verify(&request(
            Method::POST,
            url,
            "X-SignalWire-Signature",
            ok,
            body,
        ))
        .unwrap_err()
    };
    // Scheme switched: never tried.
    assert_eq!(
        mismatch(
            "http://hooks.example.com/signalwire/sms?tenant=42",
            WORKED_BODY
        ),
        VerifyError::SignatureMismatch
    );
    // A changed, an added and a removed parameter.
    assert_eq!(
        mismatch(
            WORKED_URL,
            &WORKED_BODY.replace("Hello+there", "Hello+therf")
        ),
        VerifyError::SignatureMismatch
    );
    assert_eq!(
        mismatch(WORKED_URL, &format!("{WORKED_BODY}&Extra=1")),
        VerifyError::SignatureMismatch
    );
    assert_eq!(
        mismatch(WORKED_URL, &WORKED_BODY.replace("&NumSegments=1", "")),
        VerifyError::SignatureMismatch
    );
    // The query is signed too.
    assert_eq!(
        mismatch(
            "https://hooks.example.com/signalwire/sms?tenant=43",
            WORKED_BODY
        ),
        VerifyError::SignatureMismatch
    );
    // Wrong key.
    assert_eq!(
        verifier("PSK_other")
            .verify(&request(
                Method::POST,
                WORKED_URL,
                "X-SignalWire-Signature",
                ok,
                WORKED_BODY
            ))
            .unwrap_err(),
        VerifyError::SignatureMismatch
    );
    // Missing, doubled, malformed header.
    let bare = WebhookRequest::new(
        Method::POST,
        WORKED_URL,
        HeaderMap::new(),
        Bytes::from(WORKED_BODY),
    );
    assert!(matches!(
        v.verify(&bare),
        Err(VerifyError::MissingHeader { .. })
    ));
    let mut doubled = request(
        Method::POST,
        WORKED_URL,
        "X-SignalWire-Signature",
        ok,
        WORKED_BODY,
    );
    doubled.headers.append(
        "x-signalwire-signature",
        HeaderValue::from_static("mq+OkdFYzZeY1gr8xVd053EWf9c="),
    );
    assert!(matches!(
        v.verify(&doubled),
        Err(VerifyError::DuplicateHeader { .. })
    ));
    for bad in ["not base64!", "aGVsbG8=", ""] {
        assert!(
            matches!(
                v.verify(&request(
                    Method::POST,
                    WORKED_URL,
                    "X-SignalWire-Signature",
                    bad,
                    WORKED_BODY
                )),
                Err(VerifyError::MalformedHeader { .. })
            ),
            "{bad:?}"
        );
    }
    // Rotation: the previous key still verifies.
    let rotated = Verifier::new(
        SigningKeys::new("PSK_new").with_previous(WORKED_KEY),
        None,
        1 << 20,
        200,
    );
    rotated
        .verify(&request(
            Method::POST,
            WORKED_URL,
            "X-SignalWire-Signature",
            ok,
            WORKED_BODY,
        ))
        .unwrap();
}

#[test]
fn errors_never_carry_the_expected_signature_or_body() {
    let v = verifier(WORKED_KEY);
    let e = v
        .verify(&request(
            Method::POST,
            WORKED_URL,
            "X-SignalWire-Signature",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAA=",
            WORKED_BODY,
        ))
        .unwrap_err();
    let text = format!("{e} {e:?}");
    assert!(!text.contains("mq+OkdFYzZeY1gr8xVd053EWf9c="), "{text}");
    assert!(!text.contains("Hello"), "{text}");
    assert!(!text.contains(WORKED_KEY), "{text}");
}
