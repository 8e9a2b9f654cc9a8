import { useEffect, useState } from "react";

// Hash routes (#/campaigns/<id>): the api serves one index.html, whatever the path.
export type Route =
  | { page: "campaigns" }
  | { page: "new" }
  | { page: "campaign"; id: string }
  | { page: "call" }
  | { page: "overview" }
  | { page: "dnc" }
  | { page: "webhooks" };

export function parseRoute(hash: string): Route {
  const parts = hash.replace(/^#\/?/, "").split("/").filter(Boolean);
  if (parts[0] === "campaigns" && parts[1] === "new") return { page: "new" };
  if (parts[0] === "campaigns" && parts[1]) return { page: "campaign", id: parts[1] };
  if (parts[0] === "call") return { page: "call" };
  if (parts[0] === "overview") return { page: "overview" };
  if (parts[0] === "do-not-call") return { page: "dnc" };
  if (parts[0] === "webhooks") return { page: "webhooks" };
  return { page: "campaigns" };
}

export function href(route: Route): string {
  switch (route.page) {
    case "new":
      return "#/campaigns/new";
    case "campaign":
      return `#/campaigns/${route.id}`;
    case "call":
      return "#/call";
    case "overview":
      return "#/overview";
    case "dnc":
      return "#/do-not-call";
    case "webhooks":
      return "#/webhooks";
    default:
      return "#/campaigns";
  }
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(window.location.hash));
  useEffect(() => {
    const onChange = () => setRoute(parseRoute(window.location.hash));
    window.addEventListener("hashchange", onChange);
    return () => window.removeEventListener("hashchange", onChange);
  }, []);
  return route;
}

export function go(route: Route): void {
  window.location.hash = href(route);
}
