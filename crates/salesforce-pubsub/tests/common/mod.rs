//! A local stand-in for the Pub/Sub API (the same proto, served by tonic on 127.0.0.1) that
//! records what the subscriber asks for and checks its flow control.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::collections::HashSet;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use apache_avro::Schema;
use apache_avro::types::{Record, Value as Avro};
use async_trait::async_trait;
use futures::Stream;
use omnichannel_core::{AccessToken, Result as CoreResult, TokenManager, TokenSource};
use omnichannel_salesforce_pubsub::proto::pub_sub_server::{PubSub, PubSubServer};
use omnichannel_salesforce_pubsub::proto::{
    ConsumerEvent, FetchRequest, FetchResponse, ProducerEvent, ReplayPreset, SchemaInfo,
    SchemaRequest, TopicInfo, TopicRequest,
};
use tokio::sync::{Notify, mpsc};
use tonic::{Request, Response, Status, Streaming};

pub const TOPIC: &str = "/event/Reply_Event__e";
pub const ORG: &str = "00D000000000001";
pub const INSTANCE: &str = "https://example.my.salesforce.com";
pub const SCHEMA_ID: &str = "schema-fingerprint-1";
pub const SCHEMA: &str = r#"{"type":"record","name":"Reply_Event__e","namespace":"com.sforce.eventbus","fields":[
  {"name":"CreatedDate","type":"long","doc":"CreatedDate:DateTime"},
  {"name":"CreatedById","type":"string","doc":"CreatedBy:EntityId"},
  {"name":"EventType__c","type":["null","string"],"default":null},
  {"name":"Payload__c","type":["null","string"],"default":null}
]}"#;

/// An event held by the server.
#[derive(Clone, Debug)]
pub struct Held {
    pub id: String,
    pub replay: Vec<u8>,
    pub schema_id: String,
    pub payload: Vec<u8>,
}

/// The replay id of the event at `index`: not contiguous, 8 bytes big-endian.
pub fn replay_of(index: usize) -> Vec<u8> {
    ((index as u64 + 1) * 10).to_be_bytes().to_vec()
}

/// Avro-encodes a test record with the test schema.
pub fn encode(text: &str, created: i64) -> Vec<u8> {
    let schema = Schema::parse_str(SCHEMA).unwrap();
    let mut r = Record::new(&schema).unwrap();
    r.put("CreatedDate", Avro::Long(created));
    r.put("CreatedById", Avro::String("005xx0000012345".into()));
    r.put(
        "EventType__c",
        Avro::Union(1, Box::new(Avro::String("Interaction".into()))),
    );
    let payload = serde_json::json!({"conversationIdentifier": "conv-1", "text": text}).to_string();
    r.put(
        "Payload__c",
        Avro::Union(1, Box::new(Avro::String(payload))),
    );
    apache_avro::writer::datum::GenericDatumWriter::builder(&schema)
        .build()
        .unwrap()
        .write_value_to_vec(r)
        .unwrap()
}

#[derive(Debug, Clone)]
pub struct SubscribeLog {
    pub token: String,
    pub instance_url: String,
    pub tenant_id: String,
    pub preset: i32,
    pub replay_id: Vec<u8>,
    pub num_requested: i32,
}

#[derive(Debug, Default)]
pub struct Log {
    pub subscribes: Vec<SubscribeLog>,
    /// Server-side pending count when each later FetchRequest arrived, and its size.
    pub refills: Vec<(i32, i32)>,
    /// Largest number of requested-but-unsent events the server ever held.
    pub max_pending: i32,
    pub sent: usize,
    pub violations: Vec<String>,
    pub unauthenticated: usize,
}

#[derive(Debug, Default)]
pub struct Script {
    /// Tokens answered with UNAUTHENTICATED.
    pub rejected_tokens: HashSet<String>,
    /// End the next stream with UNAVAILABLE once it has sent this many events.
    pub drop_after: Option<usize>,
    /// After this many events of the next stream, treat its token as expired:
    /// add it to `rejected_tokens` and end the stream with UNAUTHENTICATED.
    pub expire_token_after: Option<usize>,
    /// Keepalives (empty responses) sent at the start of the next stream.
    pub keepalives_first: usize,
    /// Pause before each response.
    pub delay: Duration,
    /// Events per response (default 1 when 0).
    pub per_response: usize,
    /// Send a keepalive whenever the stream is idle for 50 ms.
    pub idle_keepalives: bool,
}

#[derive(Default)]
pub struct Mock {
    pub events: Mutex<Vec<Held>>,
    pub schemas: Mutex<Vec<(String, String)>>,
    pub published: Notify,
    pub log: Mutex<Log>,
    pub script: Mutex<Script>,
    pub schema_calls: AtomicUsize,
    pub topic_calls: AtomicUsize,
}

impl Mock {
    pub fn new() -> Arc<Self> {
        let m = Mock::default();
        m.schemas
            .lock()
            .unwrap()
            .push((SCHEMA_ID.to_string(), SCHEMA.to_string()));
        Arc::new(m)
    }

    /// Publishes `n` events with texts `m<i>`.
    pub fn publish(&self, n: usize) {
        let mut ev = self.events.lock().unwrap();
        for _ in 0..n {
            let i = ev.len();
            ev.push(Held {
                id: format!("evt-{i}"),
                replay: replay_of(i),
                schema_id: SCHEMA_ID.into(),
                payload: encode(&format!("m{i}"), 1_700_000_000_000 + i as i64),
            });
        }
        drop(ev);
        self.published.notify_waiters();
    }

    pub fn push(&self, held: Held) {
        self.events.lock().unwrap().push(held);
        self.published.notify_waiters();
    }

    fn check_auth<T>(&self, req: &Request<T>) -> Result<String, Status> {
        let md = req.metadata();
        let get = |k: &str| {
            md.get(k)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
                .ok_or_else(|| Status::unauthenticated(format!("missing {k}")))
        };
        let token = get("accesstoken")?;
        get("instanceurl")?;
        get("tenantid")?;
        if self.script.lock().unwrap().rejected_tokens.contains(&token) {
            self.log.lock().unwrap().unauthenticated += 1;
            return Err(Status::unauthenticated("Session expired or invalid"));
        }
        Ok(token)
    }

    /// Starts the server on 127.0.0.1; returns its `http://` URL.
    pub async fn serve(self: &Arc<Self>) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let svc = PubSubServer::new(Server(self.clone()));
        tokio::spawn(async move {
            tonic::transport::Server::builder()
                .add_service(svc)
                .serve_with_incoming(tokio_stream_from(listener))
                .await
                .unwrap();
        });
        format!("http://{addr}")
    }
}

/// Lets tonic flush the responses already queued before a stream ends with an error (its
/// server drops encoded-but-unflushed messages when the stream yields an error right away).
async fn settle() {
    tokio::time::sleep(Duration::from_millis(30)).await;
}

fn tokio_stream_from(
    listener: tokio::net::TcpListener,
) -> impl Stream<Item = std::io::Result<tokio::net::TcpStream>> {
    futures::stream::unfold(listener, |l| async move {
        let r = l.accept().await.map(|(s, _)| s);
        Some((r, l))
    })
}

struct Server(Arc<Mock>);

type Out = Pin<Box<dyn Stream<Item = Result<FetchResponse, Status>> + Send>>;

#[async_trait]
impl PubSub for Server {
    type SubscribeStream = Out;

    async fn get_topic(&self, req: Request<TopicRequest>) -> Result<Response<TopicInfo>, Status> {
        self.0.topic_calls.fetch_add(1, Ordering::SeqCst);
        self.0.check_auth(&req)?;
        let name = req.into_inner().topic_name;
        if name != TOPIC {
            return Err(Status::not_found(format!("no topic {name}")));
        }
        Ok(Response::new(TopicInfo {
            topic_name: name,
            tenant_guid: ORG.into(),
            can_publish: true,
            can_subscribe: true,
            schema_id: SCHEMA_ID.into(),
            rpc_id: "rpc-topic".into(),
        }))
    }

    async fn get_schema(
        &self,
        req: Request<SchemaRequest>,
    ) -> Result<Response<SchemaInfo>, Status> {
        self.0.schema_calls.fetch_add(1, Ordering::SeqCst);
        self.0.check_auth(&req)?;
        let id = req.into_inner().schema_id;
        let schemas = self.0.schemas.lock().unwrap();
        let json = schemas
            .iter()
            .find(|(i, _)| *i == id)
            .map(|(_, j)| j.clone())
            .ok_or_else(|| Status::not_found(format!("no schema {id}")))?;
        Ok(Response::new(SchemaInfo {
            schema_json: json,
            schema_id: id,
            rpc_id: "rpc-schema".into(),
        }))
    }

    async fn subscribe(
        &self,
        req: Request<Streaming<FetchRequest>>,
    ) -> Result<Response<Out>, Status> {
        let token = self.0.check_auth(&req)?;
        let md = req.metadata().clone();
        let mut inbound = req.into_inner();
        let first = inbound
            .message()
            .await?
            .ok_or_else(|| Status::invalid_argument("no FetchRequest"))?;
        if first.topic_name != TOPIC {
            return Err(Status::invalid_argument("wrong topic"));
        }
        let mock = self.0.clone();
        if !(1..=100).contains(&first.num_requested) {
            mock.log
                .lock()
                .unwrap()
                .violations
                .push(format!("first num_requested {}", first.num_requested));
        }
        let start = {
            let ev = mock.events.lock().unwrap();
            match ReplayPreset::try_from(first.replay_preset) {
                Ok(ReplayPreset::Latest) => ev.len(),
                Ok(ReplayPreset::Earliest) => 0,
                Ok(ReplayPreset::Custom) => {
                    if first.replay_id == [0u8; 8] {
                        0
                    } else {
                        match ev.iter().position(|e| e.replay == first.replay_id) {
                            Some(p) => p + 1,
                            None => return Err(Status::invalid_argument("replay id not found")),
                        }
                    }
                }
                Err(_) => return Err(Status::invalid_argument("bad preset")),
            }
        };
        let script = {
            let mut s = mock.script.lock().unwrap();
            (
                s.drop_after.take(),
                s.expire_token_after.take(),
                std::mem::take(&mut s.keepalives_first),
                s.delay,
                s.per_response.max(1),
                s.idle_keepalives,
            )
        };
        let (drop_after, expire_after, mut keepalives, delay, per_response, idle_keepalives) =
            script;
        mock.log.lock().unwrap().subscribes.push(SubscribeLog {
            token: token.clone(),
            instance_url: md.get("instanceurl").unwrap().to_str().unwrap().into(),
            tenant_id: md.get("tenantid").unwrap().to_str().unwrap().into(),
            preset: first.replay_preset,
            replay_id: first.replay_id.clone(),
            num_requested: first.num_requested,
        });

        // Later FetchRequests are read by their own task so their arrival is seen at once.
        let (fetch_tx, mut fetch_rx) = mpsc::unbounded_channel::<i32>();
        tokio::spawn(async move {
            while let Ok(Some(f)) = inbound.message().await {
                if fetch_tx.send(f.num_requested).is_err() {
                    break;
                }
            }
        });

        let (tx, rx) = mpsc::channel::<Result<FetchResponse, Status>>(4);
        tokio::spawn(async move {
            let mut pending = first.num_requested;
            let mut pos = start;
            let mut sent_here = 0usize;
            let refill = |pending: &mut i32, n: i32| {
                let mut log = mock.log.lock().unwrap();
                log.refills.push((*pending, n));
                if !(1..=100).contains(&n) {
                    log.violations.push(format!("num_requested {n}"));
                }
                *pending += n;
                log.max_pending = log.max_pending.max(*pending);
            };
            {
                let mut log = mock.log.lock().unwrap();
                log.max_pending = log.max_pending.max(pending);
            }
            loop {
                while let Ok(n) = fetch_rx.try_recv() {
                    refill(&mut pending, n);
                }
                if keepalives > 0 {
                    keepalives -= 1;
                    let latest = {
                        let ev = mock.events.lock().unwrap();
                        if pos == 0 {
                            vec![0u8; 8]
                        } else {
                            ev[pos - 1].replay.clone()
                        }
                    };
                    let r = FetchResponse {
                        events: vec![],
                        latest_replay_id: latest,
                        rpc_id: "rpc-keepalive".into(),
                        pending_num_requested: pending,
                    };
                    if tx.send(Ok(r)).await.is_err() {
                        return;
                    }
                    continue;
                }
                if drop_after == Some(sent_here) {
                    settle().await;
                    let _ = tx
                        .send(Err(Status::unavailable("stream reset by the test")))
                        .await;
                    return;
                }
                if expire_after == Some(sent_here) {
                    settle().await;
                    mock.script
                        .lock()
                        .unwrap()
                        .rejected_tokens
                        .insert(token.clone());
                    let _ = tx
                        .send(Err(Status::unauthenticated("Session expired or invalid")))
                        .await;
                    return;
                }
                let available: Vec<Held> = {
                    let ev = mock.events.lock().unwrap();
                    ev[pos.min(ev.len())..].to_vec()
                };
                if pending > 0 && !available.is_empty() {
                    let mut k = per_response.min(pending as usize).min(available.len());
                    for limit in [drop_after, expire_after].into_iter().flatten() {
                        k = k.min(limit - sent_here);
                    }
                    if !delay.is_zero() {
                        tokio::time::sleep(delay).await;
                        while let Ok(n) = fetch_rx.try_recv() {
                            refill(&mut pending, n);
                        }
                    }
                    let events = available[..k]
                        .iter()
                        .map(|h| ConsumerEvent {
                            event: Some(ProducerEvent {
                                id: h.id.clone(),
                                schema_id: h.schema_id.clone(),
                                payload: h.payload.clone(),
                                headers: vec![],
                            }),
                            replay_id: h.replay.clone(),
                        })
                        .collect::<Vec<_>>();
                    pending -= k as i32;
                    pos += k;
                    sent_here += k;
                    mock.log.lock().unwrap().sent += k;
                    let r = FetchResponse {
                        latest_replay_id: events
                            .last()
                            .map(|e| e.replay_id.clone())
                            .unwrap_or_default(),
                        events,
                        rpc_id: "rpc-events".into(),
                        pending_num_requested: pending,
                    };
                    if tx.send(Ok(r)).await.is_err() {
                        return;
                    }
                    continue;
                }
                let published = mock.published.notified();
                tokio::select! {
                    n = fetch_rx.recv() => match n {
                        Some(n) => refill(&mut pending, n),
                        None => return,
                    },
                    _ = published => {}
                    _ = tx.closed() => return,
                    _ = tokio::time::sleep(Duration::from_millis(50)) => {
                        if idle_keepalives {
                            keepalives = 1;
                        }
                    }
                }
            }
        });
        let out =
            futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|r| (r, rx)) });
        Ok(Response::new(Box::pin(out)))
    }
}

/// Issues `token-1`, `token-2`, ... with `instance_url` in `extra`, counting calls.
#[derive(Default)]
pub struct CountingSource {
    pub calls: AtomicUsize,
}

#[async_trait]
impl TokenSource for CountingSource {
    async fn refresh(&self, _key: &str, _current: Option<&AccessToken>) -> CoreResult<AccessToken> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        let mut t = AccessToken::new(format!("token-{n}"));
        t.extra.insert("instance_url".into(), INSTANCE.into());
        Ok(t)
    }
}

pub fn tokens() -> (TokenManager, Arc<CountingSource>) {
    let src = Arc::new(CountingSource::default());
    (TokenManager::builder(src.clone()).build(), src)
}
