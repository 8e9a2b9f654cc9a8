import { useState } from "react";

import { storedKey, storeKey } from "./api";
import { WebhookBanner } from "./components/WebhookBanner";
import { CampaignList } from "./pages/CampaignList";
import { CampaignPage } from "./pages/CampaignPage";
import { CreateCampaign } from "./pages/CreateCampaign";
import { DoNotCall } from "./pages/DoNotCall";
import { Overview } from "./pages/Overview";
import { SignIn } from "./pages/SignIn";
import { SingleCall } from "./pages/SingleCall";
import { Webhooks } from "./pages/Webhooks";
import { href, type Route, useRoute } from "./router";

const NAV: { route: Route; label: string }[] = [
  { route: { page: "campaigns" }, label: "Campaigns" },
  { route: { page: "new" }, label: "New campaign" },
  { route: { page: "call" }, label: "One call" },
  { route: { page: "dnc" }, label: "Do-not-call" },
  { route: { page: "overview" }, label: "Overview" },
  { route: { page: "webhooks" }, label: "Webhooks" },
];

export function App() {
  const [signedIn, setSignedIn] = useState(() => storedKey() !== null);
  const route = useRoute();

  if (!signedIn) return <SignIn onSignedIn={() => setSignedIn(true)} />;

  return (
    <>
      <a className="skip" href="#main">Skip to content</a>
      <header className="topbar">
        <span className="brand">Voice Campaigns</span>
        <nav aria-label="Main">
          {NAV.map(({ route: target, label }) => (
            <a key={label} href={href(target)} aria-current={target.page === route.page ? "page" : undefined}>
              {label}
            </a>
          ))}
        </nav>
        <button
          type="button"
          className="link"
          onClick={() => {
            storeKey(null);
            setSignedIn(false);
          }}
        >
          Sign out
        </button>
      </header>
      <WebhookBanner />
      <main id="main" tabIndex={-1}>
        <Page route={route} />
      </main>
    </>
  );
}

function Page({ route }: { route: Route }) {
  switch (route.page) {
    case "new":
      return <CreateCampaign />;
    case "campaign":
      return <CampaignPage id={route.id} />;
    case "call":
      return <SingleCall />;
    case "overview":
      return <Overview />;
    case "dnc":
      return <DoNotCall />;
    case "webhooks":
      return <Webhooks />;
    default:
      return <CampaignList />;
  }
}
