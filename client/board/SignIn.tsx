import { useState, type FormEvent } from "react";
import { isExpired, parseToken, type Session } from "./session.js";

export function SignIn({ notice, onSignIn }: { notice: string | null; onSignIn: (s: Session) => void }) {
  const [text, setText] = useState("");
  const [error, setError] = useState<string | null>(null);

  const submit = (event: FormEvent) => {
    event.preventDefault();
    const session = parseToken(text);
    if (!session) setError("That is not a board token.");
    else if (isExpired(session)) setError("That token has expired; ask for a new one.");
    else onSignIn(session);
  };

  return (
    <main className="signin">
      <form onSubmit={submit} className="signin-form">
        <h1>Order board</h1>
        {notice && <p className="signin-notice">{notice}</p>}
        <label htmlFor="token">Paste your sign-in token</label>
        <textarea
          id="token"
          value={text}
          onChange={(e) => setText(e.target.value)}
          rows={4}
          spellCheck={false}
          autoComplete="off"
        />
        {error && <p className="signin-error" role="alert">{error}</p>}
        <button type="submit" className="primary">Sign in</button>
      </form>
    </main>
  );
}
