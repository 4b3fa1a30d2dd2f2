//! A page's JSON answer, encoded once and kept with the page: served as bytes until its team
//! changes (see `keys::reads`) or the answer changes by itself (a key or an invitation expires).

use std::cell::RefCell;
use std::sync::OnceLock;

use actix_web::http::header::{ACCEPT_ENCODING, CONTENT_ENCODING, ContentType, VARY};
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use flate2::{Compress, Compression, FlushCompress, Status};

use crate::error::{ApiError, ApiResult};
use crate::services::pages::Weigh;

pub struct KeptJson {
    body: Bytes,
    /// The body gzip-compressed, made by the first request that accepts it: kept pages are
    /// compressed once, not on every request as `Compress` would.
    gzip: OnceLock<Bytes>,
    /// When the answer changes by itself; it is encoded again from then on.
    until: Option<DateTime<Utc>>,
}

impl KeptJson {
    pub fn new(value: &impl serde::Serialize, until: Option<DateTime<Utc>>) -> ApiResult<Self> {
        let body = serde_json::to_vec(value).map_err(ApiError::internal)?;
        Ok(Self::encoded(body, until))
    }

    /// An answer already encoded as JSON.
    pub fn encoded(body: Vec<u8>, until: Option<DateTime<Utc>>) -> Self {
        Self { body: body.into(), gzip: OnceLock::new(), until }
    }

    pub fn respond(&self, req: &HttpRequest) -> HttpResponse {
        let mut res = HttpResponse::Ok();
        res.content_type(ContentType::json());
        if self.body.len() < COMPRESS_FROM || !accepts_gzip(req) {
            return uncompressed(res, self.body.clone());
        }
        let gzip = self.gzip.get_or_init(|| gzip(&self.body).into());
        gzipped(res, gzip.clone())
    }
}

/// `value` as a JSON answer, gzip-compressed when the client takes it and it is large enough:
/// for answers built per request, with this thread's compressor instead of a new one each time
/// (setting one up costs more than compressing a few kilobytes).
pub fn json_answer(req: &HttpRequest, value: &impl serde::Serialize) -> ApiResult<HttpResponse> {
    Ok(encoded_answer(req, serde_json::to_vec(value).map_err(ApiError::internal)?))
}

/// [`json_answer`] of a body already encoded as JSON.
pub fn encoded_answer(req: &HttpRequest, body: Vec<u8>) -> HttpResponse {
    let mut res = HttpResponse::Ok();
    res.content_type(ContentType::json());
    if body.len() < COMPRESS_BUILT_FROM || !accepts_gzip(req) {
        return uncompressed(res, body.into());
    }
    gzipped(res, gzip(&body).into())
}

/// An answer `Compress` must leave as it is: the `identity` mark is taken off again outside it
/// (`startup`).
fn uncompressed(mut res: actix_web::HttpResponseBuilder, body: Bytes) -> HttpResponse {
    res.insert_header((CONTENT_ENCODING, "identity")).body(body)
}

fn gzipped(mut res: actix_web::HttpResponseBuilder, body: Bytes) -> HttpResponse {
    // `Compress` leaves an answer that names its encoding as it is.
    res.insert_header((CONTENT_ENCODING, "gzip")).insert_header((VARY, "accept-encoding")).body(body)
}

/// Kept answers smaller than this go out uncompressed (as `startup` does for every answer).
const COMPRESS_FROM: usize = 1024;

/// Answers built per request smaller than this go out uncompressed: deflating a usage page of
/// 6 KB took a quarter of its request's CPU (the compressor's per-block work, not the bytes),
/// for 4.5 KB saved on the wire. Kept pages are compressed once, from [`COMPRESS_FROM`].
const COMPRESS_BUILT_FROM: usize = 8 * 1024;

thread_local! {
    static DEFLATE: std::cell::RefCell<Compress> = RefCell::new(Compress::new(Compression::fast(), false));
}

/// `body` as a gzip member (RFC 1952).
fn gzip(body: &[u8]) -> Vec<u8> {
    gzip_of(&[&deflate(body, true)], body)
}

/// A gzip member of `body` from deflate `segments` that together encode it: the header, the
/// segments, then the CRC-32 and length of `body`.
fn gzip_of(segments: &[&[u8]], body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(segments.iter().map(|s| s.len()).sum::<usize>() + 18);
    // Magic, deflate, no flags, no time, fast compression, unknown OS.
    out.extend_from_slice(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 4, 0xff]);
    segments.iter().for_each(|s| out.extend_from_slice(s));
    out.extend_from_slice(&crc32fast::hash(body).to_le_bytes());
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out
}

/// Raw deflate of `text` by this thread's reused compressor, from an empty window: the final
/// blocks of a stream (`last`), or blocks that end on a byte boundary (a sync flush) so that
/// more segments can follow. Segments made this way join into one valid stream.
fn deflate(text: &[u8], last: bool) -> Vec<u8> {
    let flush = if last { FlushCompress::Finish } else { FlushCompress::Sync };
    let mut out = Vec::with_capacity(text.len() / 3 + 64);
    DEFLATE.with_borrow_mut(|deflate| {
        deflate.reset();
        loop {
            let consumed = usize::try_from(deflate.total_in()).unwrap_or(usize::MAX).min(text.len());
            if out.capacity() - out.len() < 256 {
                out.reserve(out.capacity().max(1024));
            }
            match deflate.compress_vec(&text[consumed..], &mut out, flush) {
                Ok(Status::StreamEnd) => break,
                // A sync flush is done when all input is in and it did not run out of room.
                Ok(_)
                    if !last
                        && usize::try_from(deflate.total_in()).is_ok_and(|n| n == text.len())
                        && out.len() < out.capacity() =>
                {
                    break;
                }
                Ok(_) => {}
                // Deflating into memory does not fail; if it did, the stream would be cut short
                // and every client's length check would refuse it.
                Err(_) => break,
            }
        }
    });
    out
}

/// A page spliced per request (`page_json` with the item at `start..end` encoded again) as a
/// gzip answer: the unchanged text before and after the item is compressed once and kept in
/// `around`, only the item is compressed per request.
pub fn spliced_answer(
    req: &HttpRequest,
    body: Vec<u8>,
    (start, end): (usize, usize),
    around: &OnceLock<(Bytes, Bytes)>,
) -> HttpResponse {
    if body.len() < COMPRESS_BUILT_FROM || !accepts_gzip(req) || start > end || end > body.len() {
        return encoded_answer(req, body);
    }
    let (before, after) =
        around.get_or_init(|| (deflate(&body[..start], false).into(), deflate(&body[end..], true).into()));
    let item = deflate(&body[start..end], false);
    let mut res = HttpResponse::Ok();
    res.content_type(ContentType::json());
    gzipped(res, gzip_of(&[before, &item, after], &body).into())
}

/// Whether the request's `Accept-Encoding` takes gzip (by name or `*`, with a weight above 0).
fn accepts_gzip(req: &HttpRequest) -> bool {
    let Some(accept) = req.headers().get(ACCEPT_ENCODING).and_then(|v| v.to_str().ok()) else { return false };
    let weights: Vec<(&str, f32)> = accept
        .split(',')
        .map(|coding| {
            let mut parts = coding.split(';').map(str::trim);
            let name = parts.next().unwrap_or_default();
            let weight = parts
                .find_map(|p| p.strip_prefix("q=").or_else(|| p.strip_prefix("Q=")))
                .map_or(1.0, |q| q.parse::<f32>().unwrap_or(0.0));
            (name, weight)
        })
        .collect();
    // A weight given to gzip by name counts over one given to `*`.
    let named = weights.iter().find(|(name, _)| name.eq_ignore_ascii_case("gzip"));
    named.or_else(|| weights.iter().find(|(name, _)| *name == "*")).is_some_and(|&(_, weight)| weight > 0.0)
}

impl Weigh for KeptJson {
    fn weight(&self) -> usize {
        // The compressed copy, once made, is a fraction of the body.
        self.body.len() + self.body.len() / 4
    }

    fn fresh(&self) -> bool {
        self.until.is_none_or(|t| Utc::now() < t)
    }
}

/// How [`page_json`] starts: the first item follows.
pub const PAGE_HEAD: &[u8] = b"{\"items\":[";

/// `{"items":[…],"next_cursor":"…"}` from items encoded one by one: how every page type
/// serializes (`next_cursor` left out when there is none).
pub fn page_json<'a>(items: impl IntoIterator<Item = &'a [u8]>, next_cursor: Option<&str>) -> ApiResult<Vec<u8>> {
    let mut out = Vec::with_capacity(16 * 1024);
    out.extend_from_slice(PAGE_HEAD);
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(item);
    }
    out.push(b']');
    if let Some(cursor) = next_cursor {
        out.extend_from_slice(b",\"next_cursor\":");
        serde_json::to_writer(&mut out, cursor).map_err(ApiError::internal)?;
    }
    out.push(b'}');
    Ok(out)
}

/// The first of `times` after `now`: when an answer built at `now` changes by itself.
pub fn next_change(now: DateTime<Utc>, times: impl IntoIterator<Item = DateTime<Utc>>) -> Option<DateTime<Utc>> {
    times.into_iter().filter(|&t| t > now).min()
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;

    #[test]
    fn an_answer_is_kept_until_it_changes_by_itself() {
        let now = Utc::now();
        let soon = next_change(now, [now - Duration::hours(1), now + Duration::hours(2), now + Duration::hours(1)]);
        assert_eq!(soon, Some(now + Duration::hours(1)), "the first change still to come");
        assert_eq!(next_change(now, [now]), None, "what happens now is already in the answer");
        assert!(KeptJson::new(&1, None).unwrap().fresh());
        assert!(KeptJson::new(&1, Some(now + Duration::hours(1))).unwrap().fresh());
        assert!(!KeptJson::new(&1, Some(now)).unwrap().fresh());
    }

    fn decode(gz: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(gz), &mut out).unwrap();
        out
    }

    #[test]
    fn gzip_by_the_reused_compressor_decodes_to_the_body() {
        let large: Vec<u8> =
            (0..200_000u32).flat_map(|i| format!("{{\"n\":{}}},", i * 7919 % 1000).into_bytes()).collect();
        for body in [&b"{}"[..], b"", &large[..], b"{\"items\":[]}"] {
            let gz = gzip(body);
            assert_eq!(decode(&gz), body, "{} bytes", body.len());
        }
        assert!(gzip(&large).len() < large.len() / 4);
    }

    #[test]
    fn segments_compressed_apart_join_into_one_gzip_answer() {
        let body: Vec<u8> =
            (0..3_000u32).flat_map(|i| format!("{{\"key\":{i},\"name\":\"key {i}\"}},").into_bytes()).collect();
        for (start, end) in [(0, 10), (100, 140), (body.len() - 30, body.len()), (500, 500)] {
            let (before, item, after) =
                (deflate(&body[..start], false), deflate(&body[start..end], false), deflate(&body[end..], true));
            assert_eq!(decode(&gzip_of(&[&before, &item, &after], &body)), body, "split at {start}..{end}");
        }
    }

    #[test]
    fn gzip_is_taken_by_name_or_star_unless_weighed_zero() {
        let accepts = |value: &str| {
            let req = actix_web::test::TestRequest::default().insert_header((ACCEPT_ENCODING, value)).to_http_request();
            accepts_gzip(&req)
        };
        assert!(accepts("gzip"));
        assert!(accepts("br, GZIP;q=0.5"));
        assert!(accepts("*"));
        assert!(!accepts("gzip;q=0"));
        assert!(!accepts("gzip;q=0, *"));
        assert!(!accepts("br, deflate"));
        assert!(!accepts("identity"));
        assert!(!accepts_gzip(&actix_web::test::TestRequest::default().to_http_request()));
    }

    #[test]
    fn a_page_from_its_items_is_the_page_serde_writes() {
        use portal_types::{ApiKeyPage, Member, MemberPage, Role};
        let member = |n: u32| Member {
            user_id: uuid::Uuid::new_v4(),
            name: format!("Member \"{n}\""),
            email: format!("m{n}@example.com"),
            role: Role::Admin,
            joined_at: Utc::now(),
            last_active_at: None,
        };
        let cases = [(vec![member(1), member(2)], Some("00ff\"".to_owned())), (vec![], None), (vec![member(3)], None)];
        for (items, next_cursor) in cases {
            let encoded: Vec<Vec<u8>> = items.iter().map(|i| serde_json::to_vec(i).unwrap()).collect();
            let spliced = page_json(encoded.iter().map(Vec::as_slice), next_cursor.as_deref()).unwrap();
            let page = MemberPage { items, next_cursor: next_cursor.clone() };
            assert_eq!(String::from_utf8(spliced).unwrap(), serde_json::to_string(&page).unwrap());
            let keys = ApiKeyPage { items: Vec::new(), next_cursor: next_cursor.clone() };
            let spliced = page_json([], next_cursor.as_deref()).unwrap();
            assert_eq!(String::from_utf8(spliced).unwrap(), serde_json::to_string(&keys).unwrap());
        }
    }
}
