#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]
//! The full inbound path of every provider (verify + parse + normalize to `Event`, that is
//! `Channel::receive` on a correctly signed request, or `receive_event` on a decoded Salesforce
//! event) against its floor on the same bytes, in the same run: the provider's MAC (or token
//! compare) plus `serde_json::from_slice::<Value>` (the form parse for SignalWire).
//!
//! Bodies are each provider's own sample event with its text padded to 1 KiB and 4 KiB with
//! realistic chat text (quotes, a newline, accents, an emoji), built by the crates' signers with
//! the demo secrets, and verified at a fixed clock.
//!
//! `cargo bench --bench inbound` runs Criterion. For instruction counts (stable on a shared
//! machine), `benches/callgrind.sh` runs the bench binary under callgrind with
//! `INBOUND_PROFILE=<provider/size>:<floor|full|bound>:<n>`: it builds only that case, runs the
//! closure `n` times in `run_n` and exits; `INBOUND_PROFILE=list` prints the cases, their body
//! sizes, and `bound` and `trees` for the cases that have them.
//!
//! `INBOUND_PAIRED=<rounds> cargo bench --bench inbound` measures each case's floor and full
//! path in alternation instead (see [`paired`]): on a shared machine, where one benchmark of a
//! Criterion run can meet a slow stretch that its floor did not, the ratio of each round is
//! taken between measurements a millisecond apart.
//!
//! Salesforce's event holds its payload, a second JSON document, in a string, which the floor
//! (one JSON parse of the event) does not read. Its case also measures the *bound*: the floor
//! plus a validating scan of that document (`IgnoredAny`, no value built), the least a correct
//! reading can do, so that the full path can be judged against what is possible as well; and
//! *trees*: the floor's parse applied to both documents (the tree of the event, then the tree of
//! the document in its string), what the floor would be if it parsed all the JSON the event
//! carries.

use std::future::Future;
use std::hint::black_box;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use criterion::{Criterion, Throughput};
use omnichannel::core::signature;
use omnichannel::{
    Bytes, Channel, ChannelEnv, ChannelFactory, FixedClock, SigningKeys, WebhookRequest,
};
use serde_json::{Value, json};

/// The instant requests are signed at and the channels' clocks stand at.
const NOW: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z

const SIZES: [usize; 2] = [1024, 4096];

/// Runs a future that never waits (the receive paths with in-memory stores) to completion.
fn ready<F: Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("the inbound path suspended; it must complete in memory"),
    }
}

/// Realistic chat text of about `n` bytes (cut on a character boundary).
fn chat_text(n: usize) -> String {
    const LINE: &str = "Hi! I ordered the blue jacket (size M) last Tuesday, order #48213, and \
        the tracking page still says \"processing\". Could you check what is going on? \
        Merci beaucoup, très gentil 🙏\n";
    let mut s = String::with_capacity(n + LINE.len());
    while s.len() < n {
        s.push_str(LINE);
    }
    let mut cut = n.min(s.len());
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    s.truncate(cut);
    s
}

/// The longest padding for which `make(text)` is at most `target` bytes, and that body.
fn fit(target: usize, make: impl Fn(&str) -> Vec<u8>) -> Vec<u8> {
    let (mut lo, mut hi) = (0usize, target);
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        if make(&chat_text(mid)).len() <= target {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    let body = make(&chat_text(lo));
    assert!(
        body.len() <= target && body.len() + 16 >= target,
        "body of {} bytes for a target of {target}",
        body.len()
    );
    body
}

fn env() -> ChannelEnv {
    ChannelEnv {
        clock: Arc::new(FixedClock::at_unix(NOW)),
        ..ChannelEnv::default()
    }
}

fn now() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(NOW, 0).unwrap()
}

fn factory(all: Vec<Arc<dyn ChannelFactory>>, name: &str) -> Arc<dyn ChannelFactory> {
    all.into_iter()
        .find(|f| f.provider().as_str() == name)
        .unwrap_or_else(|| panic!("no factory for {name}"))
}

fn demo_channel(f: &Arc<dyn ChannelFactory>) -> Arc<dyn Channel> {
    f.build(&f.demo_config(), &env()).expect("demo channel")
}

fn check(ch: &dyn Channel, req: &WebhookRequest) {
    let inbound = ready(ch.receive(req)).expect("the signed request is accepted");
    assert_eq!(inbound.events.len(), 1, "one event");
    assert!(inbound.events[0].text.is_some(), "the text is normalized");
}

type Run = Box<dyn Fn()>;

struct Case {
    /// `provider/size`.
    name: String,
    size: usize,
    floor: Run,
    full: Run,
    /// For a provider whose payload holds a second JSON document in a string (Salesforce), the
    /// floor plus the least any correct reading adds: a validating scan of that document
    /// (`serde_json::from_str::<IgnoredAny>`, no value built). `None` for the others.
    bound: Option<Run>,
    /// For the same providers, the floor's JSON parse applied to each JSON document the body
    /// holds: the floor plus `serde_json::from_str::<Value>` of the document in the string.
    /// `None` for the others.
    trees: Option<Run>,
}

/// The case of a provider whose full path is `Channel::receive` of `req` (checked once first).
fn receive_case(
    provider: &str,
    size: usize,
    body_len: usize,
    floor: Run,
    ch: Arc<dyn Channel>,
    req: WebhookRequest,
) -> Case {
    check(ch.as_ref(), &req);
    Case {
        name: format!("{provider}/{size}"),
        size: body_len,
        floor,
        full: Box::new(move || {
            black_box(ready(ch.receive(black_box(&req))).unwrap());
        }),
        bound: None,
        trees: None,
    }
}

/// The floor of a body signed with HMAC-SHA256 over `prefix` then the body: that MAC plus the
/// JSON parse of the body.
fn hmac_json_floor(secret: String, prefix: Vec<u8>, body: Vec<u8>) -> Run {
    Box::new(move || {
        black_box(signature::hmac_sha256(
            secret.as_bytes(),
            &[&prefix, black_box(&body)],
        ));
        black_box(serde_json::from_slice::<Value>(black_box(&body)).unwrap());
    })
}

/// The floor of a token-authorized JSON body: the constant-time token compare plus the parse.
fn token_json_floor(req: &WebhookRequest, secret: &str, body: Vec<u8>) -> Run {
    let (got, expected) = token_floor(req, secret);
    Box::new(move || {
        black_box(signature::constant_time_eq(
            black_box(got.as_bytes()),
            expected.as_bytes(),
        ));
        black_box(serde_json::from_slice::<Value>(black_box(&body)).unwrap());
    })
}

fn tiktok(size: usize) -> Case {
    use omnichannel::tiktok::webhook;
    let f = factory(omnichannel::tiktok::factories(), "tiktok");
    let cfg = f.demo_config();
    let secret = cfg["app_secret"].as_str().unwrap().to_string();
    let keys = SigningKeys::new(secret.clone());
    let sample: Value = serde_json::from_str(
        &webhook::sample_body("text", cfg["app_id"].as_str().unwrap(), "biz-123", now()).unwrap(),
    )
    .unwrap();
    let body = fit(size, |text| {
        let mut outer = sample.clone();
        let mut inner: Value = serde_json::from_str(outer["content"].as_str().unwrap()).unwrap();
        inner["text"]["body"] = Value::String(text.to_string());
        outer["content"] = Value::String(inner.to_string());
        serde_json::to_vec(&outer).unwrap()
    });
    let req = webhook::sign_request(
        &keys,
        "https://hooks.example.test/webhooks/tiktok/demo",
        body.clone(),
        now(),
    )
    .unwrap();
    let floor = hmac_json_floor(secret, format!("{NOW}.").into_bytes(), body.clone());
    receive_case("tiktok", size, body.len(), floor, demo_channel(&f), req)
}

fn front(size: usize) -> Case {
    use omnichannel::front::{Factory, webhook};
    let f = factory(omnichannel::front::factories(), "front");
    let cfg = f.demo_config();
    let secret = cfg["app_secret"].as_str().unwrap().to_string();
    let keys = SigningKeys::new(secret.clone());
    let (method, sample) =
        Factory::sample_body("message", cfg["channel_id"].as_str().unwrap(), now()).unwrap();
    let sample: Value = serde_json::from_str(&sample).unwrap();
    let body = fit(size, |text| {
        let mut b = sample.clone();
        b["payload"]["text"] = Value::String(text.to_string());
        b["payload"]["body"] = Value::String(format!("<p>{text}</p>"));
        serde_json::to_vec(&b).unwrap()
    });
    let req = webhook::sign_request(
        &keys,
        method,
        "http://127.0.0.1:8080/webhooks/front",
        now(),
        body.clone(),
    );
    let ts = req.header(webhook::TIMESTAMP_HEADER).unwrap().unwrap();
    let floor = hmac_json_floor(secret, format!("{ts}:").into_bytes(), body.clone());
    receive_case("front", size, body.len(), floor, demo_channel(&f), req)
}

fn signalwire(size: usize) -> Case {
    use omnichannel::signalwire::webhook;
    let f = factory(omnichannel::signalwire::factories(), "signalwire");
    let cfg = f.demo_config();
    let secret = cfg["signing_key"].as_str().unwrap().to_string();
    let keys = SigningKeys::new(secret.clone());
    let project = cfg["project_id"].as_str().unwrap().to_string();
    let ours = cfg["from"].as_str().unwrap().to_string();
    let url = "https://hooks.example.test/webhooks/signalwire/demo";
    let sid = "SM5151a3f2-0000-4000-8000-0000000000a1";
    // An inbound SMS as SignalWire's compatibility API posts it.
    let params = |text: &str| -> Vec<(String, String)> {
        [
            ("ToCountry", "US"),
            ("ToState", "CA"),
            ("SmsMessageSid", sid),
            ("NumMedia", "0"),
            ("ToCity", "SAN FRANCISCO"),
            ("FromZip", "94105"),
            ("SmsSid", sid),
            ("FromState", "CA"),
            ("SmsStatus", "received"),
            ("FromCity", "SAN FRANCISCO"),
            ("Body", text),
            ("FromCountry", "US"),
            ("To", &ours),
            ("ToZip", "94107"),
            ("NumSegments", "1"),
            ("MessageSid", sid),
            ("AccountSid", &project),
            ("From", "+15557654321"),
            ("ApiVersion", "2010-04-01"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    };
    let signed = |text: &str| {
        let p = params(text);
        let refs: Vec<(&str, &str)> = p.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        webhook::sign_request(&keys, url, &refs)
    };
    let body = fit(size, |text| signed(text).body.to_vec());
    // The padding that produced `body`, found again from the decoded form.
    let form: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).unwrap();
    let text = form.iter().find(|(k, _)| k == "Body").unwrap().1.clone();
    let req = signed(&text);
    assert_eq!(req.body.as_ref(), body.as_slice());
    let body_len = body.len();
    let floor: Run = Box::new(move || {
        black_box(signature::hmac_sha1(
            secret.as_bytes(),
            &[url.as_bytes(), black_box(&body)],
        ));
        black_box(serde_urlencoded::from_bytes::<Vec<(String, String)>>(black_box(&body)).unwrap());
    });
    receive_case("signalwire", size, body_len, floor, demo_channel(&f), req)
}

/// Replaces the body of a token-authorized request (the token does not cover the body).
fn with_body(req: &WebhookRequest, body: Vec<u8>) -> WebhookRequest {
    WebhookRequest::new(
        req.method.clone(),
        req.url.clone(),
        req.headers.clone(),
        Bytes::from(body),
    )
}

fn token_floor(req: &WebhookRequest, secret: &str) -> (String, String) {
    let got = req
        .header("authorization")
        .unwrap()
        .expect("authorization header")
        .to_string();
    (got, format!("Token {secret}"))
}

fn rocketchat(size: usize) -> Case {
    let f = factory(omnichannel::rocketchat_rapidpro::factories(), "rocketchat");
    let cfg = f.demo_config();
    let secret = cfg["secret"].as_str().unwrap().to_string();
    let sample = f
        .simulate(
            &cfg,
            "agent-message",
            "https://rapidpro.example.test/mr/tickets/types/rocketchat/event_callback/6c50665f-b4ff-4e37-9625-bc464fe6a999",
            now(),
        )
        .unwrap();
    let sample_body: Value = serde_json::from_slice(&sample.body).unwrap();
    let body = fit(size, |text| {
        let mut b = sample_body.clone();
        b["data"]["text"] = Value::String(text.to_string());
        serde_json::to_vec(&b).unwrap()
    });
    let req = with_body(&sample, body.clone());
    let floor = token_json_floor(&req, &secret, body.clone());
    receive_case("rocketchat", size, body.len(), floor, demo_channel(&f), req)
}

fn rapidpro(size: usize) -> Case {
    let f = factory(omnichannel::rocketchat_rapidpro::factories(), "rapidpro");
    let cfg = f.demo_config();
    let secret = cfg["secret"].as_str().unwrap().to_string();
    let base = format!(
        "http://127.0.0.1:8080/api/apps/public/{}",
        cfg["app_id"].as_str().unwrap()
    );
    let ch = demo_channel(&f);
    // The ticket's room must exist before a visitor message is accepted.
    let open = f.simulate(&cfg, "room", &base, now()).unwrap();
    let opened = ready(ch.receive(&open)).unwrap();
    assert_eq!(opened.reply.status, 201, "room opened");
    let sample = f.simulate(&cfg, "visitor-message", &base, now()).unwrap();
    let sample_body: Value = serde_json::from_slice(&sample.body).unwrap();
    let body = fit(size, |text| {
        let mut b = sample_body.clone();
        b["text"] = Value::String(text.to_string());
        serde_json::to_vec(&b).unwrap()
    });
    let req = with_body(&sample, body.clone());
    let floor = token_json_floor(&req, &secret, body.clone());
    receive_case("rapidpro", size, body.len(), floor, ch, req)
}

fn salesforce(size: usize) -> Case {
    let f = factory(
        omnichannel::salesforce_interaction::factories(),
        "salesforce",
    );
    let cfg = f.demo_config();
    let fields = &cfg["event_fields"];
    let (payload_field, type_field) = (
        fields["payload"].as_str().unwrap().to_string(),
        fields["event_type"].as_str().unwrap().to_string(),
    );
    let channel_address = cfg["channel_address"].as_str().unwrap().to_string();
    // A rep's text reply in the Spring '24 layout, as a Pub/Sub subscriber decodes it (Avro
    // unions as `{"string": ...}`).
    let make = |text: &str| {
        let entry = json!({
            "conversationIdentifier": "c0ffee00-0000-4000-8000-000000000001",
            "channelAddressIdentifier": channel_address,
            "recipient": {"appType": "custom", "subject": "+15557654321", "role": "EndUser"},
            "payload": {
                "identifier": "0a1b2c3d-0000-4000-8000-00000000e001",
                "entryType": "Message",
                "entryPayload": {
                    "entryType": "Message",
                    "id": "0a1b2c3d-0000-4000-8000-00000000e001",
                    "abstractMessage": {
                        "messageType": "StaticContentMessage",
                        "id": "0a1b2c3d-0000-4000-8000-00000000e001",
                        "staticContent": {"formatType": "Text", "text": text}
                    }
                },
                "sender": {"appType": "agent", "subject": "005xx0000012345", "role": "Agent"},
                "transcriptedTimestamp": NOW * 1000 + 508
            }
        });
        let mut payload = serde_json::Map::new();
        payload.insert("CreatedDate".into(), json!(NOW * 1000 + 579));
        payload.insert(payload_field.clone(), json!({"string": entry.to_string()}));
        payload.insert(type_field.clone(), json!({"string": "Interaction"}));
        serde_json::to_vec(&json!({"replayId": "2278491", "payload": payload})).unwrap()
    };
    let body = fit(size, make);
    let ch = demo_channel(&f);
    let event: Value = serde_json::from_slice(&body).unwrap();
    let inbound = ready(ch.receive_event(Arc::new(event.clone()))).expect("the event is accepted");
    assert_eq!(inbound.events.len(), 1);
    assert!(inbound.events[0].text.is_some());
    let floor_body = body.clone();
    Case {
        name: format!("salesforce/{size}"),
        size: body.len(),
        floor: Box::new(move || {
            black_box(serde_json::from_slice::<Value>(black_box(&floor_body)).unwrap());
        }),
        bound: Some(floor_and_payload_document::<serde::de::IgnoredAny>(
            body.clone(),
            payload_field.clone(),
        )),
        trees: Some(floor_and_payload_document::<Value>(
            body.clone(),
            payload_field,
        )),
        full: Box::new(move || {
            let event: Value = serde_json::from_slice(black_box(&body)).unwrap();
            black_box(ready(ch.receive_event(Arc::new(event))).unwrap());
        }),
    }
}

/// Salesforce's floor (the event's tree) and then the payload document in the event's field
/// `payload_field` read as a `T`: `IgnoredAny` for the bound, `Value` for trees.
fn floor_and_payload_document<T: serde::de::DeserializeOwned>(
    body: Vec<u8>,
    payload_field: String,
) -> Run {
    Box::new(move || {
        let event: Value = serde_json::from_slice(black_box(&body)).unwrap();
        let inner = event["payload"][&payload_field]["string"].as_str().unwrap();
        black_box(serde_json::from_str::<T>(inner).unwrap());
        black_box(event);
    })
}

/// Builds a provider's case for a body size.
type MakeCase = fn(usize) -> Case;

const PROVIDERS: [(&str, MakeCase); 6] = [
    ("tiktok", tiktok),
    ("front", front),
    ("signalwire", signalwire),
    ("rocketchat", rocketchat),
    ("rapidpro", rapidpro),
    ("salesforce", salesforce),
];

/// The cases whose `provider/size` name passes `keep`, built only then (building a channel
/// loads the system's root certificates, which would drown an instruction count).
fn cases(keep: impl Fn(&str) -> bool) -> Vec<Case> {
    let mut all = Vec::new();
    for size in SIZES {
        for (provider, make) in PROVIDERS {
            if keep(&format!("{provider}/{size}")) {
                all.push(make(size));
            }
        }
    }
    all
}

/// `INBOUND_PROFILE=<provider/size>:<floor|full|bound|trees>:<iterations>`: runs one closure, for callgrind.
fn profile(spec: &str) {
    if spec == "list" {
        for c in cases(|_| true) {
            let bound = if c.bound.is_some() { " bound" } else { "" };
            let trees = if c.trees.is_some() { " trees" } else { "" };
            println!("{} ({} bytes){bound}{trees}", c.name, c.size);
        }
        return;
    }
    let mut parts = spec.split(':');
    let (name, which, n) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
        parts
            .next()
            .and_then(|n| n.parse::<usize>().ok())
            .unwrap_or(1000),
    );
    let all = cases(|c| c == name);
    let case = all
        .first()
        .unwrap_or_else(|| panic!("no case {name}; INBOUND_PROFILE=list shows them"));
    let run = match which {
        "floor" => &case.floor,
        "full" => &case.full,
        "bound" => case
            .bound
            .as_ref()
            .unwrap_or_else(|| panic!("{name} has no bound")),
        "trees" => case
            .trees
            .as_ref()
            .unwrap_or_else(|| panic!("{name} has no trees")),
        other => panic!("`{other}`: expected floor, full, bound or trees"),
    };
    run_n(run, n);
}

/// The measured loop of a profile run (callgrind collects only in here, see
/// `benches/callgrind.sh`).
#[inline(never)]
fn run_n(run: &Run, n: usize) {
    for _ in 0..n {
        run();
    }
}

/// `INBOUND_PAIRED=<rounds>`: the floor, the full path (and the bound and trees) of each case
/// measured in alternation, a batch of about a millisecond each per round, so that a slower
/// stretch of a shared machine falls on both sides of a ratio instead of on one benchmark.
/// Prints, per case, the median time per call of each, the median of the rounds' ratios full /
/// floor and its 10th and 90th percentiles, and the medians of bound / floor, trees / floor and
/// full / trees.
/// `INBOUND_CASES=<text>` keeps the cases whose name contains the text; `INBOUND_CHURN=<n>`
/// measures them on another heap layout (see [`heap_layout`]).
fn paired(rounds: usize) {
    use std::time::Instant;
    let rounds = rounds.max(5);
    let time = |run: &Run, n: usize| {
        let start = Instant::now();
        run_n(run, n);
        start.elapsed().as_secs_f64() * 1e9 / n as f64
    };
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let pct = |v: &[f64], p: usize| v[(v.len() - 1) * p / 100];
    println!(
        "| case | floor | full | ratio (median of rounds) | p10 to p90 | bound / floor | trees / floor | full / trees |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    // `INBOUND_CASES=<text>`: only the cases whose name contains it (`salesforce`, `/4096`).
    let only = std::env::var("INBOUND_CASES").unwrap_or_default();
    // `INBOUND_CHURN=<blocks>`: another heap layout before the cases are built.
    let churn = std::env::var("INBOUND_CHURN")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let _kept = heap_layout(churn);
    for case in cases(|name| name.contains(only.as_str())) {
        // floor, full, then bound and trees when the case has them (both or neither).
        let mut runs: Vec<&Run> = vec![&case.floor, &case.full];
        runs.extend(case.bound.as_ref());
        runs.extend(case.trees.as_ref());
        // A batch of about a millisecond for each, from a warm-up call count.
        let batch: Vec<usize> = runs
            .iter()
            .map(|r| {
                let ns = (0..3).map(|_| time(r, 200)).fold(f64::MAX, f64::min);
                ((1e6 / ns) as usize).max(10)
            })
            .collect();
        let mut per: Vec<Vec<f64>> = vec![Vec::with_capacity(rounds); runs.len()];
        for _ in 0..rounds {
            for (i, r) in runs.iter().enumerate() {
                per[i].push(time(r, batch[i]));
            }
        }
        let mut ratios: Vec<f64> = per[1].iter().zip(&per[0]).map(|(f, l)| f / l).collect();
        // The median of the rounds' ratios of run `i` to run `j`, when the case has both.
        let against = |i: usize, j: usize| match (per.get(i), per.get(j)) {
            (Some(a), Some(b)) => {
                let mut r: Vec<f64> = a.iter().zip(b).map(|(a, b)| a / b).collect();
                format!("{:.2}", median(&mut r))
            }
            _ => String::new(),
        };
        let ratio = median(&mut ratios);
        let (bound, trees, full_trees) = (against(2, 0), against(3, 0), against(1, 3));
        let (floor, full) = (median(&mut per[0]), median(&mut per[1]));
        println!(
            "| {} | {:.2} µs | {:.2} µs | **{ratio:.2}** | {:.2} to {:.2} | {bound} | {trees} | {full_trees} |",
            case.name,
            floor / 1e3,
            full / 1e3,
            pct(&ratios, 10),
            pct(&ratios, 90),
        );
    }
}

/// Another heap layout for the cases: `n` zeroed blocks of 1 to 2,048 bytes (sizes from a
/// fixed pseudo-random sequence) allocated in turn, every other one freed at once and the rest
/// returned, to be kept until the measurement ends.
///
/// The floors of the 1 KiB bodies, trees of small allocations, take up to a tenth more or less
/// time depending on where those allocations land (which cases the process built, what it
/// allocated before); the full paths move less. A case measured alone in a fresh process sees
/// one such layout; this gives another (BENCHMARKS.md, "The floor and the heap's layout").
fn heap_layout(n: usize) -> Vec<Vec<u8>> {
    let mut kept = Vec::with_capacity(n / 2);
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for i in 0..n {
        // xorshift64
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let block = black_box(vec![0u8; (x % 2048) as usize + 1]);
        if i % 2 == 0 {
            kept.push(block);
        }
    }
    kept
}

fn main() {
    if let Ok(spec) = std::env::var("INBOUND_PROFILE") {
        profile(&spec);
        return;
    }
    if let Ok(rounds) = std::env::var("INBOUND_PAIRED") {
        paired(rounds.parse().unwrap_or(100));
        return;
    }
    let mut c = Criterion::default().configure_from_args();
    for case in cases(|_| true) {
        let mut g = c.benchmark_group(format!("inbound/{}", case.name));
        g.throughput(Throughput::Bytes(case.size as u64));
        g.bench_function("floor", |b| b.iter(&case.floor));
        g.bench_function("full", |b| b.iter(&case.full));
        if let Some(bound) = &case.bound {
            g.bench_function("bound", |b| b.iter(bound));
        }
        if let Some(trees) = &case.trees {
            g.bench_function("trees", |b| b.iter(trees));
        }
        g.finish();
    }
    c.final_summary();
}
