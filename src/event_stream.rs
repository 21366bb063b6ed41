//! One connection to the server's event stream (`GET {endpoint}/events`, SSE), read with
//! `fetch`, which, unlike `EventSource`, sends our headers and works in service workers.
//! It only says when to sync; reconnecting is up to the caller.

use pwa_sync_core::sse::EventParser;
use web_sys::AbortController;

use crate::body::BodyReader;
use crate::transport::HttpTransport;

pub(crate) struct EventStream {
    /// `None`: the answer had no body, which reads as a broken stream.
    body: Option<BodyReader>,
    parser: EventParser,
    /// Events with data already parsed and not yet handed out.
    pokes: usize,
}

impl EventStream {
    /// Connect. `Err` if the request failed or the server did not accept it (non-2xx);
    /// `abort` ends the request and the stream from outside.
    pub(crate) async fn connect(transport: &HttpTransport, abort: &AbortController) -> Result<EventStream, ()> {
        let body = transport.events(abort).await?;
        Ok(EventStream { body: body.map(|b| BodyReader::new(&b)), parser: EventParser::new(), pokes: 0 })
    }

    /// Wait for the next event that carries data: `Ok(true)`; `Ok(false)` once the
    /// stream has ended; `Err` if reading it failed (connection lost, aborted).
    pub(crate) async fn next_poke(&mut self) -> Result<bool, ()> {
        let body = self.body.as_ref().ok_or(())?;
        while self.pokes == 0 {
            let Some(chunk) = body.next().await.map_err(|_| ())? else { return Ok(false) };
            self.pokes = self.parser.push(&chunk.to_vec());
        }
        self.pokes -= 1;
        Ok(true)
    }
}
