//! Prints the names shared with JavaScript as JSON; `scripts/package.mjs` turns them into
//! `pkg/names.js` and `pkg/names.d.ts`.

fn main() {
    println!("{}", pwa_sync_core::names::to_json());
}
