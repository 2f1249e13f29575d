//! Salesforce: `receive_event` (decoded platform events) on every inbound fixture's event,
//! edited at the JSON level (any node replaced by hostile values, the payload field's
//! double-encoded JSON edited inside, deep nesting, long lists), or replaced by arbitrary JSON.
#![no_main]

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use omnichannel_fuzz::{
    Case, Unstructured, assert_no_secret, check_event_json, load_cases, mutate_json, plan, runtime,
    set_clock,
};
use serde_json::Value;

fn cases() -> &'static [Case] {
    static CASES: OnceLock<Vec<Case>> = OnceLock::new();
    CASES.get_or_init(|| {
        load_cases(
            &omnichannel_salesforce_interaction::Factory,
            &["salesforce"],
        )
    })
}

fuzz_target!(|data: &[u8]| {
    let cases = cases();
    let mut u = Unstructured::new(data);
    let p = plan(&mut u, cases.len());
    let Some(case) = cases.get(p.case) else {
        return;
    };
    let event = if u.ratio(1u8, 8u8).unwrap_or(false) {
        // Raw bytes as JSON, when they are.
        let raw: &[u8] = u.arbitrary().unwrap_or(&[]);
        match serde_json::from_slice::<Value>(raw) {
            Ok(v) => v,
            Err(_) => return,
        }
    } else {
        let Some(mut v) = case.event.clone() else {
            return;
        };
        let _ = mutate_json(&mut u, &mut v);
        v
    };
    set_clock(case, &p);
    match runtime().block_on(case.channel.receive_event(Arc::new(event))) {
        Ok(inbound) => {
            for e in &inbound.events {
                check_event_json(e);
            }
        }
        Err(e) => assert_no_secret(case, &e),
    }
});
