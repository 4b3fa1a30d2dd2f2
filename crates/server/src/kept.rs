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
use crate::keys::Weigh;

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
            return res.body(self.body.clone());
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
    if body.len() < COMPRESS_FROM || !accepts_gzip(req) {
        return res.body(body);
    }
    gzipped(res, gzip(&body).into())
}

fn gzipped(mut res: actix_web::HttpResponseBuilder, body: Bytes) -> HttpResponse {
    // `Compress` leaves an answer that names its encoding as it is.
    res.insert_header((CONTENT_ENCODING, "gzip")).insert_header((VARY, "accept-encoding")).body(body)
}

/// Answers smaller than this go out uncompressed (as `startup` does for every answer).
const COMPRESS_FROM: usize = 1024;

thread_local! {
    static DEFLATE: std::cell::RefCell<Compress> = RefCell::new(Compress::new(Compression::fast(), false));
}

/// `body` as a gzip member (RFC 1952): deflate by this thread's reused compressor, then the
/// CRC-32 and length.
fn gzip(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() / 3 + 64);
    // Magic, deflate, no flags, no time, fast compression, unknown OS.
    out.extend_from_slice(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 4, 0xff]);
    DEFLATE.with_borrow_mut(|deflate| {
        deflate.reset();
        loop {
            let consumed = usize::try_from(deflate.total_in()).unwrap_or(usize::MAX).min(body.len());
            if out.capacity() - out.len() < 256 {
                out.reserve(out.capacity().max(1024));
            }
            match deflate.compress_vec(&body[consumed..], &mut out, FlushCompress::Finish) {
                Ok(Status::StreamEnd) => break,
                Ok(_) => {}
                // Deflating into memory does not fail; if it did, the stream would be cut short
                // and the length check of every client would refuse it.
                Err(_) => break,
            }
        }
    });
    out.extend_from_slice(&crc32fast::hash(body).to_le_bytes());
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out
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

/// `{"items":[…],"next_cursor":"…"}` from items encoded one by one: how every page type
/// serializes (`next_cursor` left out when there is none).
pub fn page_json<'a>(items: impl IntoIterator<Item = &'a [u8]>, next_cursor: Option<&str>) -> ApiResult<Vec<u8>> {
    let mut out = Vec::with_capacity(16 * 1024);
    out.extend_from_slice(b"{\"items\":[");
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

    #[test]
    fn gzip_by_the_reused_compressor_decodes_to_the_body() {
        let decode = |gz: &[u8]| {
            let mut out = Vec::new();
            std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(gz), &mut out).unwrap();
            out
        };
        let large: Vec<u8> =
            (0..200_000u32).flat_map(|i| format!("{{\"n\":{}}},", i * 7919 % 1000).into_bytes()).collect();
        for body in [&b"{}"[..], b"", &large[..], b"{\"items\":[]}"] {
            let gz = gzip(body);
            assert_eq!(decode(&gz), body, "{} bytes", body.len());
        }
        assert!(gzip(&large).len() < large.len() / 4);
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
