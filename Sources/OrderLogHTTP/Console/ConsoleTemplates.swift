import Mustache

/// The service console's templates (Mustache; `{{x}}` is HTML-escaped, `{{{x}}}` is not and
/// is used only for markup this module made itself, such as SVG charts). Kept in the binary —
/// no files to find at run time, nothing fetched: the console works offline. The styles and
/// the one script are inline for the same reason.
enum ConsoleTemplates {
    static func library() throws -> MustacheLibrary {
        var library = MustacheLibrary()
        for (name, text) in all { try library.register(text, named: name) }
        return library
    }

    static let all: [(String, String)] = [
        ("layout", layout), ("home", home), ("login", login), ("customer", customer), ("order", order),
        ("queue", queue), ("dashboard", dashboard), ("search", search), ("message", message),
    ]

    static let layout = """
    <!doctype html>
    <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
    <title>{{title}} · OrderLog</title>
    <style>
    :root { --ink:#1d2330; --muted:#667085; --line:#e4e7ec; --bg:#f7f8fa; --accent:#2458d3; }
    * { box-sizing:border-box } body { margin:0; font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif; color:var(--ink); background:var(--bg) }
    header { background:#111827; color:#fff; padding:10px 20px; display:flex; gap:18px; align-items:center; flex-wrap:wrap }
    header a { color:#dbe4ff; text-decoration:none } header strong { font-size:16px; margin-right:8px }
    header form { margin-left:auto; display:flex; gap:6px } header input { padding:5px 8px; border-radius:4px; border:0; min-width:260px }
    main { padding:20px; max-width:1200px; margin:0 auto } h1 { font-size:20px; margin:0 0 12px } h2 { font-size:15px; margin:22px 0 8px }
    table { border-collapse:collapse; width:100%; background:#fff; border:1px solid var(--line) } th,td { text-align:left; padding:6px 10px; border-bottom:1px solid var(--line); vertical-align:top }
    th { background:#f0f2f5; font-weight:600; font-size:12px; text-transform:uppercase; letter-spacing:.03em; color:var(--muted) }
    td.num, th.num { text-align:right; font-variant-numeric:tabular-nums }
    .badge { display:inline-block; padding:1px 8px; border-radius:10px; font-size:12px; font-weight:600; background:#e4e7ec; color:#344054; white-space:nowrap }
    .b-good { background:#d1fadf; color:#05603a } .b-warn { background:#fef0c7; color:#93370d } .b-bad { background:#fee4e2; color:#912018 } .b-info { background:#dbe4ff; color:#1c3faa }
    .cards { display:flex; gap:12px; flex-wrap:wrap } .card { background:#fff; border:1px solid var(--line); border-radius:6px; padding:10px 14px; min-width:150px }
    .card .k { color:var(--muted); font-size:12px } .card .v { font-size:17px; font-weight:600 }
    .muted { color:var(--muted) } .flash { padding:8px 12px; border-radius:6px; margin:0 0 12px } .flash.ok { background:#d1fadf } .flash.err { background:#fee4e2 }
    form.action { background:#fff; border:1px solid var(--line); border-radius:6px; padding:10px; display:flex; gap:8px; flex-wrap:wrap; align-items:end; margin:6px 0 }
    form.action label { display:flex; flex-direction:column; font-size:12px; color:var(--muted) } form.action input, form.action select { padding:4px 6px }
    button { background:var(--accent); color:#fff; border:0; border-radius:4px; padding:6px 12px; cursor:pointer } a { color:var(--accent) }
    .pager { margin:10px 0 } code { font-size:12px } .live { font-size:12px; color:var(--muted) }
    svg text { font: 11px system-ui, sans-serif; fill: #344054 }
    </style></head>
    <body><header><strong>OrderLog</strong><a href="/">Search</a><a href="/console/queues">Work queues</a><a href="/console/dashboard">Dashboard</a>
    <span class="muted">{{#agent}}agent {{agent}}{{/agent}}</span> <a href="/console/login">{{#agent}}switch{{/agent}}{{^agent}}sign in{{/agent}}</a>
    <form action="/console/search" method="get"><input name="q" placeholder="Order id, customer id or tracking number" aria-label="search" value="{{query}}"><button>Find</button></form></header>
    <main>{{#flash}}<div class="flash {{kind}}" id="flash">{{text}}</div>{{/flash}}{{$body}}{{/body}}</main></body></html>
    """

    static let home = """
    {{<layout}}{{$body}}
    <h1>Find an order</h1>
    <form action="/console/search" method="get" class="action"><label>Order id, customer id or tracking number<input name="q" id="q" size="40" autofocus></label><button id="find">Find</button></form>
    <div class="cards">
    <div class="card"><div class="k">Orders</div><div class="v">{{orders}}</div></div>
    <div class="card"><div class="k">Events</div><div class="v">{{events}}</div></div>
    </div>
    <h2>Work queues</h2>
    <ul>{{#queues}}<li><a href="{{href}}">{{label}}</a> <span class="muted">{{count}}</span></li>{{/queues}}</ul>
    {{/body}}{{/layout}}
    """

    static let login = """
    {{<layout}}{{$body}}
    <h1>Sign in</h1>
    <p class="muted">Your token (from the server's tokens file) decides what you may do: a consumer reads, a producer or admin may also act on orders. Actions are recorded with actor kind <code>agent</code> and the name below.</p>
    <form action="/console/login" method="post" class="action">
    <label>Agent name<input name="agent" id="agent" value="{{agent}}" maxlength="64"></label>
    {{#tokens}}<label>Token<input name="token" id="token" type="password"></label>{{/tokens}}
    <button id="sign-in">Sign in</button></form>
    {{/body}}{{/layout}}
    """

    static let search = """
    {{<layout}}{{$body}}
    <h1>Search: {{query}}</h1>
    {{#hasMatches}}<table><tr><th>Order</th><th>Fulfillment</th><th>Carrier</th></tr>
    {{#matches}}<tr><td><a href="/console/orders/{{order}}">{{order}}</a></td><td>{{fulfillment}}</td><td>{{carrier}}</td></tr>{{/matches}}</table>{{/hasMatches}}
    {{^hasMatches}}<p id="none">No order, customer or tracking number matches <b>{{query}}</b>.</p>{{/hasMatches}}
    {{/body}}{{/layout}}
    """

    static let customer = """
    {{<layout}}{{$body}}
    <h1>Customer {{customer}}</h1>
    <p class="muted">{{total}} orders, newest first.</p>
    <table id="orders"><tr><th>Order</th><th>Placed</th><th>Status</th><th>Payment</th><th>Returns</th><th class="num">Total</th><th>Last change</th></tr>
    {{#orders}}<tr data-order="{{id}}"><td><a href="/console/orders/{{id}}">{{id}}</a></td><td>{{placed}}</td>
    <td><span class="badge {{statusClass}}" data-field="status">{{status}}</span></td><td><span class="badge {{paymentClass}}" data-field="payment">{{payment}}</span></td>
    <td><span class="badge {{returnClass}}" data-field="returns">{{returns}}</span></td><td class="num">{{total}}</td><td>{{lastChange}}</td></tr>{{/orders}}
    </table>
    {{#next}}<div class="pager"><a href="?after={{next}}" id="next">Older orders →</a></div>{{/next}}
    {{/body}}{{/layout}}
    """

    static let order = """
    {{<layout}}{{$body}}
    <div id="order" data-order="{{id}}" data-next="{{next}}">{{{orderBody}}}</div>
    <script>
    (function () {
      var box = document.getElementById('order');
      var id = box.dataset.order;
      var types = {{{typesJSON}}};
      var source = new EventSource('/events?order_id=' + encodeURIComponent(id) + '&from=' + box.dataset.next);
      var busy = false, again = false;
      function refresh() {
        if (busy) { again = true; return; }
        busy = true;
        fetch('/console/orders/' + encodeURIComponent(id) + '?fragment=1', { credentials: 'same-origin' })
          .then(function (r) { return r.text(); })
          .then(function (html) { box.innerHTML = html; })
          .finally(function () { busy = false; if (again) { again = false; refresh(); } });
      }
      types.forEach(function (t) { source.addEventListener(t, refresh); });
    })();
    </script>
    {{/body}}{{/layout}}
    """

    static let queue = """
    {{<layout}}{{$body}}
    <h1>Work queue: {{label}}</h1>
    <form method="get" class="action"><label>Status<select name="status" id="status-select">{{#statuses}}<option value="{{name}}" {{#selected}}selected{{/selected}}>{{name}}</option>{{/statuses}}</select></label>
    <label>Older than (hours)<input name="hours" value="{{hours}}" size="4"></label><button>Show</button></form>
    <p class="muted">{{total}} orders {{label}}; this page shows those older than {{hours}} h, oldest wait first within the page.</p>
    <table id="queue"><tr><th>Order</th><th>Customer</th><th>Status</th><th>Since</th><th class="num">Age (h)</th><th class="num">Total</th></tr>
    {{#orders}}<tr><td><a href="/console/orders/{{id}}">{{id}}</a></td><td><a href="/console/customers/{{customerURL}}">{{customer}}</a></td><td><span class="badge {{statusClass}}">{{status}}</span></td><td>{{since}}</td><td class="num">{{age}}</td><td class="num">{{total}}</td></tr>{{/orders}}
    </table>
    {{#next}}<div class="pager"><a id="next" href="?status={{status}}&hours={{hours}}&after={{next}}">Next page →</a></div>{{/next}}
    {{/body}}{{/layout}}
    """

    static let dashboard = """
    {{<layout}}{{$body}}
    <h1>Dashboard</h1>
    <p class="muted">Orders placed per day over the last {{days}} days with events (by each order's placing time), from {{events}} events. Computed {{computed}}.</p>
    <h2>Orders per day</h2><div id="chart-orders">{{{ordersChart}}}</div>
    {{#currencies}}<h2>Money placed per day, {{code}}</h2><div class="chart-money">{{{chart}}}</div>{{/currencies}}
    <h2>Orders by channel</h2><div id="chart-channels">{{{channelsChart}}}</div>
    {{/body}}{{/layout}}
    """

    static let message = """
    {{<layout}}{{$body}}<h1>{{heading}}</h1><p>{{text}}</p>{{/body}}{{/layout}}
    """
}
