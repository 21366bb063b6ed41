import { useState, type FormEvent } from "react";

export function SignIn({ onSignIn }: { onSignIn: (name: string) => Promise<void> }) {
  const [name, setName] = useState("");
  const [busy, setBusy] = useState(false);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const trimmed = name.trim();
    if (!trimmed) return;
    setBusy(true);
    void onSignIn(trimmed).finally(() => setBusy(false));
  };
  return (
    <main className="signin" id="main">
      <h1>Conference companion</h1>
      <p>Your profile, a personal Now / Next card, the programme and a packing list shared by your devices. It works offline.</p>
      <form onSubmit={submit} aria-label="Sign in">
        <label htmlFor="signin-name">Your name</label>
        <input
          id="signin-name"
          name="name"
          autoComplete="username"
          required
          autoFocus
          value={name}
          onChange={(e) => setName(e.target.value)}
          placeholder="e.g. ana"
        />
        <button type="submit" disabled={busy}>
          Sign in
        </button>
      </form>
      <p className="muted small">
        Demo sign-in: the reference server runs with <code>--dev-auth</code>, so your name is your account. Use the same name
        in another browser to see your data follow you.
      </p>
    </main>
  );
}
