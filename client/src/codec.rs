//! How typed values become the bytes stored in the cache and back:
//! the [`Codec`] trait, [`JsonCodec`] (the default: readable, and numbers
//! stay numbers so `INCR` works on them) and, with the `postcard` feature,
//! `PostcardCodec` (compact binary).

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{Error, Result};

/// Turns values into bytes and back. Implementations are cheap to clone
/// (usually unit structs) and shared by every clone of a client.
pub trait Codec: Clone + Send + Sync + 'static {
    /// Encodes `value`.
    ///
    /// # Errors
    /// [`ErrorKind::Codec`](crate::ErrorKind::Codec) when the value cannot be
    /// represented.
    fn encode<T: Serialize + ?Sized>(&self, value: &T) -> Result<Vec<u8>>;

    /// Decodes a value from `bytes`.
    ///
    /// # Errors
    /// [`ErrorKind::Codec`](crate::ErrorKind::Codec) when `bytes` do not hold
    /// a `T`.
    fn decode<T: DeserializeOwned>(&self, bytes: &[u8]) -> Result<T>;
}

/// JSON through serde_json: the default codec.
///
/// Integers are stored as their decimal text, so a value written with
/// [`Client::set`](crate::Client::set) can be incremented with
/// [`Client::incr`](crate::Client::incr) and read back as a number.
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonCodec;

impl Codec for JsonCodec {
    fn encode<T: Serialize + ?Sized>(&self, value: &T) -> Result<Vec<u8>> {
        serde_json::to_vec(value).map_err(|e| Error::codec(format!("JSON encode: {e}")))
    }

    fn decode<T: DeserializeOwned>(&self, bytes: &[u8]) -> Result<T> {
        serde_json::from_slice(bytes).map_err(|e| Error::codec(format!("JSON decode: {e}")))
    }
}

/// postcard: a compact, non-self-describing binary format (feature
/// `postcard`). Smaller values than JSON, but not readable with redis-cli and
/// not usable with `INCR`; every reader must use the same Rust types.
#[cfg(feature = "postcard")]
#[derive(Debug, Clone, Copy, Default)]
pub struct PostcardCodec;

#[cfg(feature = "postcard")]
impl Codec for PostcardCodec {
    fn encode<T: Serialize + ?Sized>(&self, value: &T) -> Result<Vec<u8>> {
        postcard::to_allocvec(value).map_err(|e| Error::codec(format!("postcard encode: {e}")))
    }

    fn decode<T: DeserializeOwned>(&self, bytes: &[u8]) -> Result<T> {
        postcard::from_bytes(bytes).map_err(|e| Error::codec(format!("postcard decode: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
    struct User {
        id: u64,
        name: String,
    }

    fn ann() -> User {
        User {
            id: 7,
            name: "ann".into(),
        }
    }

    #[test]
    fn json_round_trip_and_errors() {
        let user = ann();
        let bytes = JsonCodec.encode(&user).expect("encodes");
        assert_eq!(bytes, br#"{"id":7,"name":"ann"}"#);
        assert_eq!(JsonCodec.decode::<User>(&bytes).expect("decodes"), user);
        assert_eq!(JsonCodec.encode(&42i64).expect("encodes"), b"42");
        let err = JsonCodec.decode::<User>(b"not json").expect_err("garbage");
        assert_eq!(err.kind(), &ErrorKind::Codec);
    }

    #[cfg(feature = "postcard")]
    #[test]
    fn postcard_round_trip() {
        let user = ann();
        let bytes = PostcardCodec.encode(&user).expect("encodes");
        assert!(bytes.len() < JsonCodec.encode(&user).expect("encodes").len());
        assert_eq!(PostcardCodec.decode::<User>(&bytes).expect("decodes"), user);
        assert_eq!(
            PostcardCodec.decode::<User>(&[]).expect_err("empty").kind(),
            &ErrorKind::Codec
        );
    }
}
