(function () {
  "use strict";
  // Every cell is written with textContent, never innerHTML: data stays text.
  var data = JSON.parse(document.getElementById("report-data").textContent);
  var text = data.text;
  var LIMIT = 1000;
  var BLANK = "\u0000";
  var collator = new Intl.Collator(data.lang, { numeric: true, sensitivity: "base" });
  var formats = {
    int: new Intl.NumberFormat(data.lang, { maximumFractionDigits: 0 }),
    money: new Intl.NumberFormat(data.lang, { minimumFractionDigits: 2, maximumFractionDigits: 2 }),
    pct: new Intl.NumberFormat(data.lang, {
      style: "percent", minimumFractionDigits: 1, maximumFractionDigits: 1
    })
  };

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, function (match, name) { return values[name]; });
  }

  function shown(value, kind) {
    if (value === null) { return ""; }
    return formats[kind] ? formats[kind].format(value) : String(value);
  }

  function key(value) { return value === null ? BLANK : String(value); }

  function compare(left, right, kind) {
    if (left === right) { return 0; }
    if (left === null) { return 1; }
    if (right === null) { return -1; }
    if (formats[kind]) { return left < right ? -1 : 1; }
    return collator.compare(String(left), String(right));
  }

  function setUp(section, table) {
    var columns = table.columns;
    var rows = table.rows;
    var order = rows.map(function (row, index) { return index; });
    var sorted = { column: -1, descending: false };
    var filters = [];
    var bar = section.querySelector(".filters");
    var status = section.querySelector(".status");
    var head = section.querySelector("thead");
    var body = section.querySelector("tbody");

    table.filters.forEach(function (column) {
      var label = document.createElement("label");
      label.textContent = columns[column].label;
      var select = document.createElement("select");
      select.setAttribute("data-column", columns[column].key);
      select.addEventListener("change", update);
      label.appendChild(select);
      bar.appendChild(label);
      filters.push({ column: column, select: select });
    });
    var reset = document.createElement("button");
    reset.type = "button";
    reset.className = "reset";
    reset.textContent = text.reset;
    reset.addEventListener("click", function () {
      filters.forEach(function (filter) { filter.select.value = ""; });
      update();
    });
    bar.appendChild(reset);

    var headerRow = document.createElement("tr");
    columns.forEach(function (column, index) {
      var cell = document.createElement("th");
      cell.scope = "col";
      cell.setAttribute("data-key", column.key);
      cell.setAttribute("aria-sort", "none");
      if (formats[column.kind]) { cell.className = "num"; }
      var button = document.createElement("button");
      button.type = "button";
      button.textContent = column.label;
      button.addEventListener("click", function () { sortBy(index); });
      cell.appendChild(button);
      headerRow.appendChild(cell);
    });
    head.appendChild(headerRow);

    function matches(row, skipped) {
      for (var i = 0; i < filters.length; i += 1) {
        var filter = filters[i];
        if (filter !== skipped && filter.select.value !== "" &&
            key(row[filter.column]) !== filter.select.value) { return false; }
      }
      return true;
    }

    // Each select offers the values left by the other filters (faceted search).
    function refreshOptions() {
      filters.forEach(function (filter) {
        var current = filter.select.value;
        var seen = {};
        rows.forEach(function (row) {
          if (matches(row, filter)) { seen[key(row[filter.column])] = row[filter.column]; }
        });
        if (current !== "" && !(current in seen)) { seen[current] = current === BLANK ? null : current; }
        var values = Object.keys(seen).sort(function (a, b) {
          return compare(seen[a], seen[b], columns[filter.column].kind);
        });
        filter.select.textContent = "";
        var all = document.createElement("option");
        all.value = "";
        all.textContent = text.all;
        filter.select.appendChild(all);
        values.forEach(function (value) {
          var option = document.createElement("option");
          option.value = value;
          option.textContent = value === BLANK ? text.blank : shown(seen[value], columns[filter.column].kind);
          filter.select.appendChild(option);
        });
        filter.select.value = current;
      });
    }

    function render() {
      var matching = order.filter(function (index) { return matches(rows[index], null); });
      var fragment = document.createDocumentFragment();
      matching.slice(0, LIMIT).forEach(function (index) {
        var tr = document.createElement("tr");
        rows[index].forEach(function (value, column) {
          var td = document.createElement("td");
          var kind = columns[column].kind;
          td.textContent = shown(value, kind);
          td.className = formats[kind] ? (value < 0 ? "num negative" : "num") : kind;
          tr.appendChild(td);
        });
        fragment.appendChild(tr);
      });
      body.textContent = "";
      body.appendChild(fragment);
      status.textContent = matching.length === 0 ? text.no_rows : fill(text.showing, {
        shown: formats.int.format(Math.min(matching.length, LIMIT)),
        matching: formats.int.format(matching.length),
        total: formats.int.format(rows.length)
      });
      section.setAttribute("data-matching", String(matching.length));
    }

    function sortBy(column) {
      sorted.descending = sorted.column === column ? !sorted.descending : false;
      sorted.column = column;
      var sign = sorted.descending ? -1 : 1;
      var kind = columns[column].kind;
      order.sort(function (a, b) {
        var left = rows[a][column];
        var right = rows[b][column];
        // Blanks stay at the bottom in both directions; ties keep the plan's order.
        if (left === null || right === null) { return compare(left, right, kind) || a - b; }
        return sign * compare(left, right, kind) || a - b;
      });
      Array.prototype.forEach.call(head.querySelectorAll("th"), function (cell, index) {
        cell.setAttribute("aria-sort", index !== column ? "none" :
          (sorted.descending ? "descending" : "ascending"));
      });
      render();
    }

    function update() {
      refreshOptions();
      render();
    }

    update();
  }

  Array.prototype.forEach.call(document.querySelectorAll("section.data-table"), function (section) {
    setUp(section, data.tables[section.getAttribute("data-table")]);
  });
  document.body.setAttribute("data-ready", "true");
}());
