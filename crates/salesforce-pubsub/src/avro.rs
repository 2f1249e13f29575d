//! Avro binary payloads decoded with their writer schema into JSON.
//!
//! Before `apache-avro` decodes a payload, a bounded walk checks it against the schema without
//! allocating: every length fits in the bytes that are left, collections hold at most as many
//! items as the payload has bytes, nesting is at most [`MAX_DEPTH`] deep, and nothing is left
//! over. A hostile or corrupt payload is therefore refused before it can make the decoder
//! allocate or recurse beyond the payload's own size.
//!
//! JSON mapping: records and maps become objects (fields by name), unions are unwrapped to the
//! value they hold, enums become their symbol, `long` and `int` (and the date/time logical types
//! built on them) become numbers, `bytes`/`fixed`/`decimal` become standard base64 strings,
//! `uuid` and big decimals become strings, non-finite floats become the strings `NaN`,
//! `Infinity`, `-Infinity`, durations become `{"months", "days", "millis"}`.

use std::sync::Arc;

use apache_avro::Schema;
use apache_avro::schema::{
    InnerDecimalSchema, Name, NamesRef, NamespaceRef, ResolvedSchema, UuidSchema,
};
use apache_avro::types::Value as Avro;
use base64::Engine as _;
use serde_json::{Map, Value};

use omnichannel_core::{Error, Result};

/// Deepest nesting of records, arrays, maps and unions a payload may have.
pub const MAX_DEPTH: usize = 64;

/// A parsed writer schema, ready to decode payloads.
#[derive(Debug)]
pub struct WriterSchema {
    schema: Schema,
    id: String,
}

impl WriterSchema {
    /// Parses a schema's JSON (as `GetSchema` returns it). A schema that does not parse, or
    /// whose named references do not resolve, is `malformed_payload`.
    pub fn parse(id: impl Into<String>, json: &str) -> Result<Arc<Self>> {
        let id = id.into();
        let schema = Schema::parse_str(json)
            .map_err(|e| Error::malformed(format!("Avro schema `{id}` does not parse: {e}")))?;
        ResolvedSchema::try_from(&schema).map_err(|e| {
            Error::malformed(format!("Avro schema `{id}` has unresolved names: {e}"))
        })?;
        Ok(Arc::new(WriterSchema { schema, id }))
    }

    /// The schema id (fingerprint) it was fetched by.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The parsed schema.
    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    /// Decodes one Avro binary datum into JSON (see the module docs for the mapping).
    /// Anything that does not match the schema exactly is `malformed_payload`.
    pub fn decode(&self, payload: &[u8]) -> Result<Value> {
        let resolved = ResolvedSchema::try_from(&self.schema)
            .map_err(|e| Error::malformed(format!("Avro schema `{}`: {e}", self.id)))?;
        let names = resolved.get_names();
        let mut walk = Walk {
            buf: payload,
            pos: 0,
            items: 0,
            names,
        };
        walk.skip(&self.schema, None, 0).map_err(|reason| {
            Error::malformed(format!(
                "Avro payload does not match schema `{}`: {reason}",
                self.id
            ))
        })?;
        if walk.pos != payload.len() {
            return Err(Error::malformed(format!(
                "Avro payload has {} bytes left over after a datum of schema `{}`",
                payload.len() - walk.pos,
                self.id
            )));
        }
        let mut reader = payload;
        let value = apache_avro::reader::datum::GenericDatumReader::builder(&self.schema)
            .build()
            .and_then(|r| r.read_value(&mut reader))
            .map_err(|e| Error::malformed(format!("Avro payload: {e}")))?;
        to_json(value, 0)
    }
}

/// A schema-guided walk over a payload that only checks bounds.
struct Walk<'a, 'n> {
    buf: &'a [u8],
    pos: usize,
    items: usize,
    names: &'n NamesRef<'n>,
}

type WalkResult = std::result::Result<(), String>;

impl Walk<'_, '_> {
    fn left(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn take(&mut self, n: usize, what: &str) -> WalkResult {
        if n > self.left() {
            return Err(format!(
                "{what} of {n} bytes runs past the end ({} left)",
                self.left()
            ));
        }
        self.pos += n;
        Ok(())
    }

    fn varint(&mut self) -> std::result::Result<i64, String> {
        let mut raw: u64 = 0;
        for i in 0..10 {
            let Some(&b) = self.buf.get(self.pos) else {
                return Err("truncated variable-length integer".into());
            };
            self.pos += 1;
            raw |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                // Zig-zag decoding.
                return Ok(((raw >> 1) as i64) ^ -((raw & 1) as i64));
            }
        }
        Err("variable-length integer longer than 10 bytes".into())
    }

    fn int(&mut self) -> std::result::Result<i64, String> {
        let v = self.varint()?;
        if i32::try_from(v).is_err() {
            return Err(format!("int out of range: {v}"));
        }
        Ok(v)
    }

    fn len(&mut self, what: &str) -> std::result::Result<usize, String> {
        let n = self.varint()?;
        usize::try_from(n).map_err(|_| format!("negative length {n} of {what}"))
    }

    fn count_items(&mut self, n: usize) -> WalkResult {
        self.items = self.items.saturating_add(n);
        if self.items > self.buf.len() {
            return Err(format!(
                "collections hold {} items in total, more than the payload's {} bytes",
                self.items,
                self.buf.len()
            ));
        }
        Ok(())
    }

    fn skip(&mut self, schema: &Schema, ns: NamespaceRef<'_>, depth: usize) -> WalkResult {
        if depth > MAX_DEPTH {
            return Err(format!("nested deeper than {MAX_DEPTH} levels"));
        }
        match schema {
            Schema::Null => Ok(()),
            Schema::Boolean => {
                let at = self.pos;
                self.take(1, "boolean")?;
                match self.buf[at] {
                    0 | 1 => Ok(()),
                    b => Err(format!("boolean byte {b}")),
                }
            }
            Schema::Int | Schema::Date | Schema::TimeMillis => self.int().map(|_| ()),
            Schema::Long
            | Schema::TimeMicros
            | Schema::TimestampMillis
            | Schema::TimestampMicros
            | Schema::TimestampNanos
            | Schema::LocalTimestampMillis
            | Schema::LocalTimestampMicros
            | Schema::LocalTimestampNanos => self.varint().map(|_| ()),
            Schema::Float => self.take(4, "float"),
            Schema::Double => self.take(8, "double"),
            Schema::Bytes | Schema::BigDecimal | Schema::Uuid(UuidSchema::Bytes) => {
                let n = self.len("bytes")?;
                self.take(n, "bytes")
            }
            Schema::Decimal(d) => match &d.inner {
                InnerDecimalSchema::Bytes => {
                    let n = self.len("decimal")?;
                    self.take(n, "decimal")
                }
                InnerDecimalSchema::Fixed(f) => self.take(f.size, "decimal"),
            },
            Schema::String | Schema::Uuid(UuidSchema::String) => {
                let n = self.len("string")?;
                let at = self.pos;
                self.take(n, "string")?;
                std::str::from_utf8(&self.buf[at..at + n])
                    .map(|_| ())
                    .map_err(|_| "string is not UTF-8".into())
            }
            Schema::Uuid(UuidSchema::Fixed(f)) | Schema::Fixed(f) => self.take(f.size, "fixed"),
            Schema::Duration(_) => self.take(12, "duration"),
            Schema::Enum(e) => {
                let i = self.int()?;
                if usize::try_from(i).map_or(true, |i| i >= e.symbols.len()) {
                    return Err(format!(
                        "enum index {i} outside {} symbols",
                        e.symbols.len()
                    ));
                }
                Ok(())
            }
            Schema::Union(u) => {
                let i = self.varint()?;
                let variant = usize::try_from(i)
                    .ok()
                    .and_then(|i| u.variants().get(i))
                    .ok_or_else(|| {
                        format!("union index {i} outside {} branches", u.variants().len())
                    })?;
                self.skip(variant, ns, depth + 1)
            }
            Schema::Array(a) => self.blocks(depth, |w| w.skip(&a.items, ns, depth + 1)),
            Schema::Map(m) => self.blocks(depth, |w| {
                w.skip(&Schema::String, ns, depth + 1)?;
                w.skip(&m.types, ns, depth + 1)
            }),
            Schema::Record(r) => {
                let name = r.name.fully_qualified_name(ns);
                let inner = name.namespace();
                for f in &r.fields {
                    self.skip(&f.schema, inner, depth + 1)?;
                }
                Ok(())
            }
            Schema::Ref { name } => {
                let full: Name = name.fully_qualified_name(ns).into_owned();
                let target = *self
                    .names
                    .get(&full)
                    .ok_or_else(|| format!("unresolved name `{full}`"))?;
                self.skip(target, full.namespace(), depth + 1)
            }
        }
    }

    /// Array and map blocks: a count (negative: followed by a byte size), until a zero count.
    fn blocks(
        &mut self,
        depth: usize,
        mut item: impl FnMut(&mut Self) -> WalkResult,
    ) -> WalkResult {
        if depth + 1 > MAX_DEPTH {
            return Err(format!("nested deeper than {MAX_DEPTH} levels"));
        }
        loop {
            let n = self.varint()?;
            if n == 0 {
                return Ok(());
            }
            let count = if n < 0 {
                let size = self.varint()?;
                if size < 0 || usize::try_from(size).map_or(true, |s| s > self.left()) {
                    return Err(format!("block byte size {size} is not within the payload"));
                }
                n.checked_neg()
                    .ok_or_else(|| "block count overflows".to_string())?
            } else {
                n
            };
            let count = usize::try_from(count).map_err(|_| "block count overflows".to_string())?;
            self.count_items(count)?;
            for _ in 0..count {
                item(self)?;
            }
        }
    }
}

fn to_json(v: Avro, depth: usize) -> Result<Value> {
    if depth > MAX_DEPTH * 2 + 2 {
        return Err(Error::malformed("Avro value nested too deeply"));
    }
    let b64 = |b: &[u8]| Value::String(base64::engine::general_purpose::STANDARD.encode(b));
    Ok(match v {
        Avro::Null => Value::Null,
        Avro::Boolean(b) => Value::Bool(b),
        Avro::Int(i) | Avro::Date(i) | Avro::TimeMillis(i) => Value::from(i),
        Avro::Long(i)
        | Avro::TimeMicros(i)
        | Avro::TimestampMillis(i)
        | Avro::TimestampMicros(i)
        | Avro::TimestampNanos(i)
        | Avro::LocalTimestampMillis(i)
        | Avro::LocalTimestampMicros(i)
        | Avro::LocalTimestampNanos(i) => Value::from(i),
        Avro::Float(f) => float(f64::from(f)),
        Avro::Double(f) => float(f),
        Avro::Bytes(b) | Avro::Fixed(_, b) => b64(&b),
        Avro::String(s) | Avro::Enum(_, s) => Value::String(s),
        Avro::Uuid(u) => Value::String(u.to_string()),
        Avro::BigDecimal(d) => Value::String(d.to_string()),
        Avro::Decimal(d) => {
            let bytes = Vec::<u8>::try_from(d)
                .map_err(|e| Error::malformed(format!("Avro decimal: {e}")))?;
            b64(&bytes)
        }
        Avro::Duration(d) => {
            let raw: [u8; 12] = d.into();
            let part = |i: usize| u32::from_le_bytes([raw[i], raw[i + 1], raw[i + 2], raw[i + 3]]);
            serde_json::json!({"months": part(0), "days": part(4), "millis": part(8)})
        }
        Avro::Union(_, inner) => to_json(*inner, depth + 1)?,
        Avro::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|i| to_json(i, depth + 1))
                .collect::<Result<_>>()?,
        ),
        Avro::Map(m) => {
            let mut out = Map::with_capacity(m.len());
            for (k, v) in m {
                out.insert(k, to_json(v, depth + 1)?);
            }
            Value::Object(out)
        }
        Avro::Record(fields) => {
            let mut out = Map::with_capacity(fields.len());
            for (k, v) in fields {
                out.insert(k, to_json(v, depth + 1)?);
            }
            Value::Object(out)
        }
    })
}

fn float(f: f64) -> Value {
    match serde_json::Number::from_f64(f) {
        Some(n) => Value::Number(n),
        None if f.is_nan() => Value::String("NaN".into()),
        None if f > 0.0 => Value::String("Infinity".into()),
        None => Value::String("-Infinity".into()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use apache_avro::types::Record;
    use serde_json::json;

    const SCHEMA: &str = r#"{"type":"record","name":"Reply__e","namespace":"com.sforce.eventbus","fields":[
        {"name":"CreatedDate","type":"long"},
        {"name":"CreatedById","type":"string"},
        {"name":"Payload__c","type":["null","string"],"default":null},
        {"name":"Count__c","type":["null","double"],"default":null},
        {"name":"Tags","type":{"type":"array","items":"string"}},
        {"name":"Kind","type":{"type":"enum","name":"Kind","symbols":["A","B"]}},
        {"name":"Blob","type":"bytes"}
    ]}"#;

    fn encode(payload: Option<&str>) -> Vec<u8> {
        let s = Schema::parse_str(SCHEMA).unwrap();
        let mut r = Record::new(&s).unwrap();
        r.put("CreatedDate", 1_690_344_475_579_i64);
        r.put("CreatedById", "005xx0000012345");
        r.put(
            "Payload__c",
            Avro::Union(
                u32::from(payload.is_some()),
                Box::new(payload.map_or(Avro::Null, |p| Avro::String(p.into()))),
            ),
        );
        r.put("Count__c", Avro::Union(1, Box::new(Avro::Double(f64::NAN))));
        r.put(
            "Tags",
            Avro::Array(vec![Avro::String("x".into()), Avro::String("y".into())]),
        );
        r.put("Kind", Avro::Enum(1, "B".into()));
        r.put("Blob", Avro::Bytes(vec![1, 2, 3]));
        apache_avro::writer::datum::GenericDatumWriter::builder(&s)
            .build()
            .unwrap()
            .write_value_to_vec(r)
            .unwrap()
    }

    #[test]
    fn decodes_to_named_fields_with_unions_unwrapped() {
        let ws = WriterSchema::parse("sid", SCHEMA).unwrap();
        let v = ws.decode(&encode(Some("{\"a\":1}"))).unwrap();
        assert_eq!(
            v,
            json!({"CreatedDate": 1_690_344_475_579_i64, "CreatedById": "005xx0000012345",
                   "Payload__c": "{\"a\":1}", "Count__c": "NaN", "Tags": ["x", "y"],
                   "Kind": "B", "Blob": "AQID"})
        );
        let v = ws.decode(&encode(None)).unwrap();
        assert_eq!(v["Payload__c"], Value::Null);
    }

    #[test]
    fn refuses_truncated_padded_and_oversized_lengths() {
        let ws = WriterSchema::parse("sid", SCHEMA).unwrap();
        let good = encode(Some("hello"));
        for cut in 0..good.len() {
            let e = ws.decode(&good[..cut]).unwrap_err();
            assert_eq!(e.kind(), "malformed_payload", "cut at {cut}");
        }
        let mut padded = good.clone();
        padded.push(0);
        assert!(
            ws.decode(&padded)
                .unwrap_err()
                .to_string()
                .contains("left over")
        );
        // A string claiming 2^40 bytes: refused by the walk, nothing allocated.
        let mut huge = Vec::new();
        huge.extend_from_slice(&good[..6]); // CreatedDate varint (6 bytes)
        huge.extend_from_slice(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x40]);
        let e = ws.decode(&huge).unwrap_err();
        assert!(e.to_string().contains("runs past the end"), "{e}");
    }

    #[test]
    fn refuses_huge_item_counts_and_deep_nesting() {
        let s = r#"{"type":"array","items":"null"}"#;
        let ws = WriterSchema::parse("arr", s).unwrap();
        // 2^40 null items in 7 bytes.
        let e = ws
            .decode(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02, 0x00])
            .unwrap_err();
        assert!(e.to_string().contains("items in total"), "{e}");
        let list = r#"{"type":"record","name":"L","fields":[{"name":"next","type":["null","L"]}]}"#;
        let ws = WriterSchema::parse("list", list).unwrap();
        let mut deep = vec![0x02; 200];
        deep.push(0x00);
        let e = ws.decode(&deep).unwrap_err();
        assert!(e.to_string().contains("nested deeper"), "{e}");
        let mut ok = vec![0x02; 10];
        ok.push(0x00);
        assert_eq!(
            ws.decode(&ok).unwrap()["next"]["next"]["next"]["next"]["next"]["next"]["next"]["next"]
                ["next"]["next"]["next"],
            Value::Null
        );
    }

    #[test]
    fn bad_schemas_are_malformed() {
        assert_eq!(
            WriterSchema::parse("x", "{not json").unwrap_err().kind(),
            "malformed_payload"
        );
        assert_eq!(
            WriterSchema::parse(
                "x",
                r#"{"type":"record","name":"R","fields":[{"name":"a","type":"Missing"}]}"#
            )
            .unwrap_err()
            .kind(),
            "malformed_payload"
        );
    }
}
