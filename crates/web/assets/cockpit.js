// The cockpit's charts (ECharts, vendored) and live feed (server-sent events). The page
// already holds every figure as text; this only draws them and keeps the feed current.
(function () {
  "use strict";
  var root = document.getElementById("cockpit");
  if (!root || !window.echarts) return;
  var data = JSON.parse(document.getElementById("cockpit-data").textContent);
  var L = JSON.parse(document.getElementById("cockpit-labels").textContent);
  var node = root.dataset.node;
  var range = root.dataset.range;
  var text = { color: "#cfe3ff" };
  var charts = [];
  function chart(id) {
    var el = document.getElementById(id);
    if (!el) return null;
    var c = echarts.init(el, null, { renderer: "svg" });
    charts.push(c);
    return c;
  }
  function go(url) { window.location.href = url; }
  function monthRange(m) {
    var y = +m.slice(0, 4), mo = +m.slice(5, 7);
    var last = new Date(Date.UTC(y, mo, 0)).getUTCDate();
    return "from=" + m + "-01&to=" + m + "-" + (last < 10 ? "0" : "") + last;
  }

  var types = chart("chart-types");
  if (types) {
    var ts = data.types.slice().reverse();
    types.setOption({
      grid: { left: 90, right: 20, top: 10, bottom: 20 },
      xAxis: { type: "value", axisLabel: text, splitLine: { lineStyle: { color: "#23406b" } } },
      yAxis: { type: "category", data: ts.map(function (t) { return t.label; }), axisLabel: { color: text.color, interval: 0 } },
      series: [{ type: "bar", name: L.registered, data: ts.map(function (t) { return t.value; }), itemStyle: { color: "#3fa7ff" } }],
      tooltip: {}
    });
    types.on("click", function (p) {
      go("/cases?node_code=" + node + "&dispute_type=" + ts[p.dataIndex].key + "&" + range);
    });
  }

  var channels = chart("chart-channels");
  if (channels) {
    channels.setOption({
      tooltip: { trigger: "item" },
      series: [{ type: "pie", radius: ["35%", "65%"], label: text,
        data: data.channels.map(function (c) { return { name: c.label, value: c.value, key: c.key }; }) }]
    });
    channels.on("click", function (p) {
      go("/cases?node_code=" + node + "&channel=" + p.data.key + "&" + range);
    });
  }

  var trend = chart("chart-trend");
  if (trend) {
    var months = data.trend.map(function (p) { return p.month; });
    trend.setOption({
      grid: { left: 50, right: 20, top: 30, bottom: 30 },
      legend: { textStyle: text },
      tooltip: { trigger: "axis" },
      xAxis: { type: "category", data: months, axisLabel: text },
      yAxis: { type: "value", axisLabel: text, splitLine: { lineStyle: { color: "#23406b" } } },
      series: [
        { name: L.registered, type: "line", smooth: true, data: data.trend.map(function (p) { return p.registered; }) },
        { name: L.concluded, type: "line", smooth: true, data: data.trend.map(function (p) { return p.concluded; }) },
        { name: L.resolved, type: "line", smooth: true, data: data.trend.map(function (p) { return p.resolved; }) }
      ]
    });
    trend.on("click", function (p) {
      go("/cases?node_code=" + node + "&" + monthRange(months[p.dataIndex]));
    });
  }

  var map = chart("chart-map");
  if (map) {
    fetch("/cockpit/geo?node=" + encodeURIComponent(node), { credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (geo) {
        if (!geo.features || geo.features.length === 0) {
          document.getElementById("chart-map").hidden = true;
          return;
        }
        echarts.registerMap("n" + node, geo);
        var byName = {};
        data.areas.forEach(function (a) { byName[a.name] = a; });
        var max = Math.max.apply(null, data.areas.map(function (a) { return a.registered; }).concat([1]));
        map.setOption({
          tooltip: { trigger: "item", formatter: function (p) {
            var a = byName[p.name];
            return a ? a.name + "<br>" + L.registered + " " + a.registered + "<br>" + L.in_progress + " " + a.in_progress + "<br>" + L.red + " " + a.red + (a.warnings ? "<br>" + L.warnings + " " + a.warnings : "") : p.name;
          } },
          visualMap: { min: 0, max: max, text: [L.density, ""], textStyle: text, calculable: true,
            inRange: { color: ["#12355e", "#2f7bd1", "#f2c14e", "#e8553e"] }, left: 10, bottom: 10 },
          series: [{ type: "map", map: "n" + node, roam: true, nameProperty: "name",
            label: { show: true, color: "#fff", fontSize: 11 },
            itemStyle: { borderColor: "#0b1a33", borderWidth: 0.6 },
            emphasis: { label: { color: "#fff" }, itemStyle: { areaColor: "#5ad1ff" } },
            data: data.areas.map(function (a) {
              // Areas with a live warning are outlined in its colour; hot spots get a mark.
              var d = { name: a.name, value: a.registered };
              if (a.warnings > 0) {
                d.itemStyle = { borderColor: a.warning_level === "red" ? "#ff3b30" : "#ffd60a", borderWidth: 3 };
              }
              if (a.hot) { d.label = { formatter: "{b} ▲" }; }
              return d;
            }) }]
        });
        map.on("click", function (p) {
          var a = byName[p.name];
          if (!a) return;
          go(a.drill ? "/cockpit?node=" + a.code : "/cases?node_code=" + a.code + "&" + range);
        });
      });
  }

  window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });

  // New cases as they arrive.
  if (window.EventSource) {
    var feed = document.getElementById("feed");
    var today = document.getElementById("kpi-today");
    var live = document.getElementById("live");
    var es = new EventSource("/cockpit/feed?node=" + encodeURIComponent(node));
    es.onopen = function () { live.hidden = false; };
    es.addEventListener("case", function (e) {
      var f = JSON.parse(e.data);
      var li = document.createElement("li");
      li.className = f.light + " fresh";
      var a = document.createElement("a");
      a.href = "/cases/" + f.id;
      a.textContent = f.registered_at + " · " + f.place + " · " + f.type_label + " · " + f.channel_label;
      li.appendChild(a);
      feed.insertBefore(li, feed.firstChild);
      while (feed.children.length > 12) feed.removeChild(feed.lastChild);
      today.textContent = String(+today.textContent + 1);
    });
    es.onerror = function () { live.hidden = true; };
  }
})();
