//! Reading a request body under a limit, before anything looks at it.

use axum::body::Body;
use bytes::{Bytes, BytesMut};
use futures::StreamExt as _;
use http::HeaderMap;

/// Why a body could not be read.
#[derive(Debug)]
pub(crate) enum ReadError {
    /// Larger than the limit: `size` is the declared length, or what had arrived when the
    /// limit was crossed.
    TooLarge { size: usize },
    /// The connection failed while the body was arriving.
    Io,
}

/// Reads the whole body, refusing more than `limit` bytes. A declared `Content-Length` over the
/// limit is refused without reading anything.
pub(crate) async fn read_limited(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<Bytes, ReadError> {
    let declared = headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if let Some(len) = declared
        && len > limit as u64
    {
        return Err(ReadError::TooLarge {
            size: usize::try_from(len).unwrap_or(usize::MAX),
        });
    }
    let capacity = declared.map_or(0, |l| l as usize).min(limit);
    let mut buf = BytesMut::with_capacity(capacity);
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| ReadError::Io)?;
        let size = buf.len().saturating_add(chunk.len());
        if size > limit {
            return Err(ReadError::TooLarge { size });
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[tokio::test]
    async fn limits() {
        let mut h = HeaderMap::new();
        let ok = read_limited(&h, Body::from("12345"), 5).await.unwrap();
        assert_eq!(ok.as_ref(), b"12345");
        match read_limited(&h, Body::from("123456"), 5).await {
            Err(ReadError::TooLarge { size }) => assert_eq!(size, 6),
            other => panic!("{other:?}"),
        }
        h.insert(
            http::header::CONTENT_LENGTH,
            http::HeaderValue::from_static("999999"),
        );
        match read_limited(&h, Body::from("1"), 5).await {
            Err(ReadError::TooLarge { size }) => assert_eq!(size, 999_999),
            other => panic!("{other:?}"),
        }
    }
}
