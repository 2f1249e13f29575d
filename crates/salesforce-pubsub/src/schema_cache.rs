//! Writer schemas by id, bounded.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use crate::avro::WriterSchema;

/// Parsed writer schemas keyed by schema id, at most `capacity` of them; past that the one
/// cached longest ago goes first. A schema id is a fingerprint of the schema, so an evicted
/// schema is simply fetched again when an event needs it.
#[derive(Debug)]
pub struct SchemaCache {
    capacity: usize,
    inner: Mutex<Entries>,
}

/// Schemas by id, and their ids in insertion order.
type Entries = (HashMap<String, Arc<WriterSchema>>, VecDeque<String>);

impl SchemaCache {
    /// A cache holding at most `capacity` schemas (at least 1).
    pub fn new(capacity: usize) -> Self {
        SchemaCache {
            capacity: capacity.max(1),
            inner: Mutex::new((HashMap::new(), VecDeque::new())),
        }
    }

    /// The cached schema of `id`.
    pub fn get(&self, id: &str) -> Option<Arc<WriterSchema>> {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .0
            .get(id)
            .cloned()
    }

    /// Caches a schema under `id`, evicting the oldest entries beyond the capacity.
    pub fn insert(&self, id: &str, schema: Arc<WriterSchema>) {
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let (map, order) = &mut *g;
        if map.insert(id.to_string(), schema).is_none() {
            order.push_back(id.to_string());
        }
        while map.len() > self.capacity {
            let Some(old) = order.pop_front() else { break };
            map.remove(&old);
        }
    }

    /// Number of cached schemas.
    pub fn len(&self) -> usize {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).0.len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn bounded_oldest_first() {
        let c = SchemaCache::new(2);
        let s = |id: &str| WriterSchema::parse(id, r#""string""#).unwrap();
        c.insert("a", s("a"));
        c.insert("b", s("b"));
        c.insert("a", s("a"));
        assert_eq!(c.len(), 2);
        c.insert("c", s("c"));
        assert_eq!(c.len(), 2);
        assert!(c.get("a").is_none());
        assert_eq!(c.get("b").unwrap().id(), "b");
        assert_eq!(c.get("c").unwrap().id(), "c");
    }
}
