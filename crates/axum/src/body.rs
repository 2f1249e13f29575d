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
    let mut stream = body.into_data_stream();
    // A body that arrives in one chunk (most webhooks) is that chunk, shared, not copied; a
    // second chunk starts a buffer.
    let mut first: Option<Bytes> = None;
    let mut buf: Option<BytesMut> = None;
    let mut size = 0usize;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| ReadError::Io)?;
        size = size.saturating_add(chunk.len());
        if size > limit {
            return Err(ReadError::TooLarge { size });
        }
        match (&mut buf, first.take()) {
            (Some(buf), _) => buf.extend_from_slice(&chunk),
            (None, None) => first = Some(chunk),
            (None, Some(head)) => {
                let mut b = BytesMut::with_capacity(capacity.max(size));
                b.extend_from_slice(&head);
                b.extend_from_slice(&chunk);
                buf = Some(b);
            }
        }
    }
    Ok(match (buf, first) {
        (Some(buf), _) => buf.freeze(),
        (None, Some(head)) => head,
        (None, None) => Bytes::new(),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[tokio::test]
    async fn bodies_in_several_chunks() {
        let h = HeaderMap::new();
        let body = || {
            let chunks: [&'static [u8]; 4] = [b"12", b"", b"345", b"6"];
            Body::from_stream(futures::stream::iter(
                chunks
                    .into_iter()
                    .map(|c| Ok::<_, std::io::Error>(Bytes::from_static(c))),
            ))
        };
        assert_eq!(
            read_limited(&h, body(), 6).await.unwrap().as_ref(),
            b"123456"
        );
        match read_limited(&h, body(), 5).await {
            Err(ReadError::TooLarge { size }) => assert_eq!(size, 6),
            other => panic!("{other:?}"),
        }
        assert!(read_limited(&h, Body::empty(), 5).await.unwrap().is_empty());
        let failing = Body::from_stream(futures::stream::iter(vec![
            Ok(Bytes::from_static(b"12")),
            Err(std::io::Error::other("reset")),
        ]));
        assert!(matches!(
            read_limited(&h, failing, 5).await,
            Err(ReadError::Io)
        ));
    }

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
