//! A response body read chunk by chunk as it arrives: the server's event stream
//! (`event_stream`, which never ends by itself). The protocol's answers are read whole by
//! `js/http.js`.

use js_sys::Uint8Array;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{ReadableStream, ReadableStreamDefaultReader, ReadableStreamReadResult};

pub struct BodyReader {
    reader: ReadableStreamDefaultReader,
}

impl BodyReader {
    /// Lock `body` for reading.
    pub fn new(body: &ReadableStream) -> BodyReader {
        // Without a mode, `getReader()` always returns a default reader.
        BodyReader { reader: body.get_reader().unchecked_into() }
    }

    /// The next chunk, `None` once the body has ended. `Err` with what the stream threw
    /// when reading fails (connection lost, request aborted), or with the chunk itself if
    /// it is not bytes.
    pub async fn next(&self) -> Result<Option<Uint8Array>, JsValue> {
        let result: ReadableStreamReadResult = JsFuture::from(self.reader.read()).await?.unchecked_into();
        // A result that does not say counts as the end.
        if result.get_done().unwrap_or(true) {
            return Ok(None);
        }
        result.get_value().dyn_into::<Uint8Array>().map(Some)
    }
}
