//! Opening a client: the database, its metadata and checkpoint scope, the session's first
//! status, and what runs in the background (tabs, timers, the event stream).

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use js_sys::{Array, Promise};
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;

use super::{tabs, Client, Extras};
use crate::background::Background;
use crate::crypto::new_client_id;
use crate::crypto::Sealer;
use crate::events::Events;
use crate::idb::IdbStore;
use crate::sys::is_online;
use crate::transport::{Auth, HttpTransport};
use pwa_sync_core::config::{ClientConfig, StorageKind};
use pwa_sync_core::engine;
use pwa_sync_core::eviction;
use pwa_sync_core::schedule::Trigger;
use pwa_sync_core::session::{Opening, Session};
use pwa_sync_core::Error;

impl Client {
    pub async fn open(config: ClientConfig, extras: Extras) -> Result<Rc<Client>, Error> {
        // The same store over an in-memory IndexedDB of its own for a memory client.
        // Values never leave the context then, so there is nothing to seal (and no cipher
        // is loaded).
        let in_memory = config.storage == StorageKind::Memory;
        let encryption = extras.encryption.as_ref().filter(|_| !in_memory);
        let (sealer, memory) = load_modules(encryption, in_memory).await?;
        // The identity of a new database, stored with it (`open_over`).
        let fresh_id = new_client_id()?;
        let store = IdbStore::open_over(&config, sealer, extras.migrations.clone(), memory, &fresh_id).await?;
        // Opening the database read the metadata and the outbox's size already (a client's
        // database always has metadata, `open_over`): a cold start then waits for no
        // transaction of its own here.
        let (meta, pending) = store
            .take_found()?
            .ok_or_else(|| Error::Storage("the database opened without its client metadata".into()))?;
        let created_now = meta.client_id == fresh_id;
        // Most opens find the checkpoint already theirs: skip the write transaction then
        // (a cold start waits for every transaction of `open`).
        if meta.checkpoint_scope.as_deref() != Some(engine::checkpoint_scope(&config).as_str()) {
            engine::ensure_checkpoint_scope(&store, &config).await?;
        }
        let transport = config
            .endpoint
            .as_deref()
            .map(|endpoint| HttpTransport::new(endpoint, Auth::new(extras.token), config.timeout_ms));
        let session = Session::new(Opening {
            retry: config.retry,
            has_server: transport.is_some(),
            online: is_online(),
            auto_sync: config.auto_sync,
            pending,
            last_synced_at: meta.last_synced_at,
            last_failure: meta.last_failure,
        });
        let events = Events::new(extras.event_target, &config.name);
        let client = Rc::new(Client {
            client_id: RefCell::new(meta.client_id),
            session: RefCell::new(session),
            config,
            store,
            events,
            transport,
            resolvers: extras.resolvers,
            migrations: extras.migrations,
            closed: Cell::new(false),
            marked: Cell::new(false),
            relaying: Cell::new(false),
            awaiting_flush: Cell::new(false),
            background: RefCell::new(None),
            tabs: RefCell::new(None),
            status_snapshot: RefCell::new(None),
            spaces: RefCell::new(None),
            poked: Cell::new(false),
            read_settler: Default::default(),
            count_settler: Default::default(),
        });
        // A memory client shares no database with other tabs: no hints to or from them
        // (another tab's `clear()` must not close it, nor its `clear()` close theirs).
        if client.store.is_durable() {
            *client.tabs.borrow_mut() = tabs::connect(&client);
        }
        // An evicted database opens empty, like a first visit: the marker this device left
        // (or the app's hint) tells them apart.
        let evicted = match client.store.is_durable() {
            true => eviction::detect(created_now, client.device_marker(), client.config.expect_stored_data),
            false => None,
        };
        if eviction::worth_marking(pending, meta.checkpoint, meta.last_synced_at.is_some()) {
            client.remember_device();
        }
        if client.transport.is_some() && client.config.auto_sync {
            let background = Background::start(&client, client.config.pull_interval_ms, client.config.realtime);
            *client.background.borrow_mut() = Some(background);
            client.trigger(Trigger::Online);
        }
        if let Some(evicted) = evicted {
            client.recover_from_eviction(&evicted);
        }
        Ok(client)
    }
}

#[wasm_bindgen(js_namespace = pwaSyncStore)]
extern "C" {
    /// `js/store.js`'s `prepare`: `[cipher, memory]`, or a rejection `[whether the config is
    /// at fault, message]`.
    #[wasm_bindgen(catch)]
    fn prepare(
        encryption: &JsValue,
        in_memory: bool,
        seal_loader: &JsValue,
        memory_loader: &JsValue,
    ) -> Result<Promise, JsValue>;
}

/// What opening loads first, in the store's script (`prepare`): the cipher of `encryption`
/// (the module `encryption.loadCipher()` resolves to, by default the package's `seal/`,
/// initialised, and its `Cipher.fromKey(key)`), or, `in_memory`, the in-memory IndexedDB
/// (`memory/idb.js`, fetched the first time a memory client opens). A key the cipher
/// refuses, or no loader at all, is `invalid-config`; a module that does not load is
/// `storage` (nothing stored can be read or written without it).
async fn load_modules(encryption: Option<&JsValue>, in_memory: bool) -> Result<(Option<Sealer>, JsValue), Error> {
    #[cfg(feature = "testing")]
    crate::sys::install_scripts_for_tests();
    let failed = |reason: JsValue| {
        let reason = Array::from(&reason);
        let message = reason.get(1).as_string().unwrap_or_default();
        match reason.get(0).is_truthy() {
            true => Error::InvalidConfig(message),
            false => Error::Storage(message),
        }
    };
    let encryption = encryption.cloned().unwrap_or(JsValue::UNDEFINED);
    let loading = prepare(&encryption, in_memory, &Sealer::default_loader(), &IdbStore::memory_loader());
    let loaded = Array::from(&JsFuture::from(loading.map_err(failed)?).await.map_err(failed)?);
    let cipher = loaded.get(0);
    Ok(((!cipher.is_undefined()).then(|| Sealer::of(cipher)), loaded.get(1)))
}
