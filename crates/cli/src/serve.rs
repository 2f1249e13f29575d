//! Running the gateway: channels built from the configuration, mounted in the axum router,
//! served on the configured address.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use omnichannel_axum::{EventSink, FanoutSink, Gateway};
use omnichannel_core::{ChannelEnv, ChannelFactory, Error, ExposeSecret as _, Provider};
use tokio::sync::oneshot;

use crate::config::GatewayConfig;
use crate::forward::{Forwarder, StdoutSink};
use crate::stores::Stores;

/// A gateway that is serving.
pub struct Server {
    /// The address it is bound to.
    pub local_addr: SocketAddr,
    /// The mounted gateway (webhook URLs, mounted channels).
    pub gateway: Gateway,
    shutdown: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("local_addr", &self.local_addr)
            .field("gateway", &self.gateway)
            .finish_non_exhaustive()
    }
}

impl Server {
    /// The base URL to reach it on loopback.
    pub fn local_url(&self) -> String {
        format!("http://{}", self.local_addr)
    }

    /// Stops accepting connections, finishes the requests in flight, and returns.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        match tokio::time::timeout(Duration::from_secs(10), &mut self.task).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => tracing::error!(error = %e, "the server stopped with an error"),
            Ok(Err(e)) => tracing::error!(error = %e, "the server task failed"),
            Err(_) => {
                tracing::warn!("requests still in flight after 10 s; stopping anyway");
                self.task.abort();
            }
        }
    }

    /// Waits until the server stops by itself (it only does on an I/O error).
    pub async fn wait(&mut self) -> std::io::Result<()> {
        match (&mut self.task).await {
            Ok(r) => r,
            Err(e) => Err(std::io::Error::other(e)),
        }
    }
}

/// The sink of the `serve` command: the forwarder first (so a full queue refuses the event
/// before it is printed), then stdout.
pub fn standard_sink(
    config: &GatewayConfig,
) -> Result<(Arc<dyn EventSink>, Option<Forwarder>), Error> {
    let mut sink = FanoutSink::new();
    let forwarder = match &config.forward {
        Some(f) => {
            let fw = Forwarder::start(f.clone())?;
            sink = sink.with(Arc::new(fw.clone()));
            Some(fw)
        }
        None => None,
    };
    sink = sink.with(Arc::new(StdoutSink));
    Ok((Arc::new(sink), forwarder))
}

/// Factories by provider name.
pub fn factory_map(
    factories: &[Arc<dyn ChannelFactory>],
) -> HashMap<Provider, Arc<dyn ChannelFactory>> {
    factories
        .iter()
        .map(|f| (f.provider(), f.clone()))
        .collect()
}

/// Builds every configured channel, binds the address and starts serving.
pub async fn start(
    config: &GatewayConfig,
    factories: &[Arc<dyn ChannelFactory>],
    stores: &Stores,
    sink: Arc<dyn EventSink>,
) -> Result<Server, Error> {
    let by_provider = factory_map(factories);
    let env = ChannelEnv {
        token_store: stores.tokens.clone(),
        lock: stores.lock.clone(),
        ..ChannelEnv::default()
    };
    let mut channels = Vec::with_capacity(config.channels.len());
    for c in &config.channels {
        let provider: Provider = c.provider.parse().map_err(|_| {
            Error::config(
                format!("channels.{}.provider", c.name),
                format!("unknown provider `{}`", c.provider.escape_debug()),
            )
        })?;
        let factory = by_provider.get(&provider).ok_or_else(|| {
            let mut known: Vec<&str> = by_provider.keys().map(|p| p.as_str()).collect();
            known.sort_unstable();
            Error::config(
                format!("channels.{}.provider", c.name),
                format!(
                    "provider `{provider}` is not built into this binary (available: {})",
                    known.join(", ")
                ),
            )
        })?;
        let channel = factory.build(&c.settings, &env).map_err(|e| {
            Error::config(format!("channels.{}", c.name), format!("{provider}: {e}"))
        })?;
        channels.push((c.name.clone(), channel, c.public_url.clone()));
    }
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| Error::config("listen", format!("cannot listen on {}: {e}", config.listen)))?;
    let local_addr = listener
        .local_addr()
        .map_err(|e| Error::config("listen", format!("no local address: {e}")))?;
    let public = config
        .public_base_url
        .clone()
        .unwrap_or_else(|| format!("http://{local_addr}"));
    let mut builder = Gateway::builder(public, sink)
        .max_body_bytes(config.max_body_bytes)
        .dedup_store(stores.dedup.clone())
        .dedup_ttl(config.dedup_ttl);
    if let Some(key) = &config.api_key {
        builder = builder.api_key(key.expose_secret());
    }
    for (name, channel, public_url) in channels {
        builder = match public_url {
            Some(url) => builder.channel_at(name, channel, url),
            None => builder.channel(name, channel),
        };
    }
    let gateway = builder.build()?;
    let router = gateway
        .router()
        .route("/health", axum::routing::get(|| async { "ok" }));
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await
    });
    Ok(Server {
        local_addr,
        gateway,
        shutdown: Some(tx),
        task,
    })
}
