import { useEffect, useMemo, useState } from "react";
import type { AppClient, ProgrammeClient } from "./types";
import { describeError, firstSync, openClient, openProgramme } from "./sync";
import { forgetUser, rememberUser, storedUser, tellWorker } from "./session";
import { useCollection } from "pwa-sync/react";
import { buildProgramme, sessionsOf, withEdits } from "./program";
import { useSpaces } from "./hooks";
import { SignIn } from "./components/SignIn";
import { StatusBar } from "./components/StatusBar";
import { NowNext } from "./components/NowNext";
import { Profile } from "./components/Profile";
import { Programme } from "./components/Programme";
import { Packing } from "./components/Packing";
import { Conflicts } from "./components/Conflicts";
import { Activity } from "./components/Activity";

export function App() {
  const [user, setUser] = useState<string | null>(storedUser);
  const [client, setClient] = useState<AppClient | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const baseProgramme = useMemo(() => buildProgramme(Date.now()), []);
  // The organisers' edits, from the conference space, over the built-in programme.
  const edits = useCollection(client, "programme");
  const programme = useMemo(() => withEdits(baseProgramme, edits), [baseProgramme, edits]);
  const spaces = useSpaces(client);
  // The programme's sessions in a local database the Programme queries by day.
  const [sessions, setSessions] = useState<ProgrammeClient | null>(null);
  useEffect(() => {
    let live = true;
    let opened: ProgrammeClient | null = null;
    openProgramme().then(
      (c) => {
        if (!live) return c.close();
        opened = c;
        setSessions(c);
      },
      (error: unknown) => live && setProblem(`Could not open the programme: ${describeError(error)}`),
    );
    return () => {
      live = false;
      opened?.close();
    };
  }, []);
  // Every change of the programme (an organiser's edit arriving) rewrites the sessions;
  // the Programme's query hears it and shows the new answer.
  useEffect(() => {
    if (!sessions) return;
    sessions.putMany("sessions", sessionsOf(programme)).catch((error: unknown) => setProblem(`Could not store the programme: ${describeError(error)}`));
  }, [sessions, programme]);

  // One client per signed-in name, closed when the name changes or the app unmounts.
  useEffect(() => {
    if (!user) return;
    let live = true;
    let opened: AppClient | null = null;
    void tellWorker(user).catch(() => {});
    openClient(user).then(
      (c) => {
        if (!live) return c.close();
        opened = c;
        setClient(c);
        void firstSync(c, user);
      },
      (error: unknown) => live && setProblem(`Could not open local storage: ${describeError(error)}`),
    );
    return () => {
      live = false;
      opened?.close();
      setClient(null);
    };
  }, [user]);

  // Signing out in another tab wipes the database and closes this tab's client.
  useEffect(() => {
    const onCleared = (e: CustomEvent<{ origin: "local" | "tab" }>) => {
      if (e.detail.origin === "tab") setUser(null);
    };
    const onAuth = (e: CustomEvent<{ message: string }>) => setProblem(`The server refused your sign-in: ${e.detail.message}`);
    addEventListener("pwa-sync:cleared", onCleared);
    addEventListener("pwa-sync:auth-required", onAuth);
    return () => {
      removeEventListener("pwa-sync:cleared", onCleared);
      removeEventListener("pwa-sync:auth-required", onAuth);
    };
  }, []);

  useEffect(() => {
    document.title = user ? `${user} · Conference companion` : "Conference companion · pwa-sync demo";
  }, [user]);

  const signIn = async (name: string) => {
    await rememberUser(name);
    setProblem(null);
    setUser(name);
  };

  const signOut = async () => {
    try {
      // Logout wipes every record, queued write and conflict, in every tab and the worker.
      await client?.clear();
    } catch (error) {
      setProblem(`Could not wipe local data: ${describeError(error)}`);
      return;
    }
    await forgetUser();
    setUser(null);
  };

  if (!user) return <SignIn onSignIn={signIn} />;

  return (
    <>
      <a className="skip" href="#main">Skip to content</a>
      <header className="top">
        <div>
          <h1>Conference companion</h1>
          <p className="muted">
            Signed in as <strong data-testid="user">{user}</strong>
          </p>
        </div>
        <button type="button" onClick={() => void signOut()}>
          Sign out
        </button>
      </header>
      <StatusBar client={client} />
      {problem && (
        <p className="problem" role="alert">
          {problem}
        </p>
      )}
      <Conflicts client={client} programme={programme} />
      <main id="main">
        <div className="columns">
          <div className="column">
            <NowNext client={client} user={user} programme={programme} />
            <Profile client={client} user={user} />
            <Packing client={client} user={user} spaces={spaces} />
          </div>
          <div className="column">
            <Programme client={client} user={user} sessions={sessions} spaces={spaces} />
          </div>
        </div>
        <Activity client={client} user={user} />
      </main>
      <footer className="muted">
        Offline first with pwa-sync: every change is stored on this device
        first and synced when the network allows.
      </footer>
    </>
  );
}
