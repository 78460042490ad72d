/* Pre-registration for shelter check-in (避難所受付の事前登録): a household form; after sending, the QR
 * code (the token only, no personal data) with SVG/PNG downloads and the link to the resident's own page.
 * On /register/{token} the same form is filled from GET /api/register/{token} and saves with PUT.
 *
 * POST /api/register, GET|PUT /api/register/{token} -> {token, url, qr_svg, qr_png, ...}
 * Browser tests can wait for: #evac-form, #evac-qr img, #evac-result[data-state].
 * Every text goes into the page with textContent.
 */
(function () {
  'use strict';

  var config = JSON.parse(document.getElementById('evac-config').textContent);
  var t = config.text;
  var app = document.getElementById('evac-app');

  // From common.js (loaded first): textContent-only element builder and {key} templates.
  var el = window.gisapp.el;
  var format = window.gisapp.format;

  var counter = 0;
  function field(parent, label, input) {
    var id = 'evac-f' + (++counter);
    var wrap = el('div', 'evac-field');
    var l = el('label', null, label);
    l.htmlFor = id;
    input.id = id;
    wrap.appendChild(l);
    wrap.appendChild(input);
    parent.appendChild(wrap);
    return input;
  }

  function input(type, name, attrs) {
    var node = document.createElement('input');
    node.type = type;
    node.name = name;
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    return node;
  }

  var form = el('form', 'evac-form');
  form.id = 'evac-form';
  form.noValidate = true;
  var result = el('p', 'evac-result', '');
  result.id = 'evac-result';
  result.setAttribute('role', 'status');
  result.setAttribute('aria-live', 'polite');

  var name = field(form, t.representative, input('text', 'representative_name', {maxlength: 100, required: ''}));
  var phone = field(form, t.phone, input('tel', 'phone', {maxlength: 30, autocomplete: 'tel'}));
  var address = field(form, t.address, input('text', 'address', {maxlength: 300}));
  var fieldset = el('fieldset', 'evac-members');
  fieldset.appendChild(el('legend', null, t.members));
  var list = el('div', 'evac-member-list');
  fieldset.appendChild(list);
  var add = el('button', 'evac-button-secondary', t.add_member);
  add.type = 'button';
  fieldset.appendChild(add);
  form.appendChild(fieldset);
  var pets = field(form, t.pets, input('number', 'pets', {min: 0, max: 20, value: 0}));
  var submit = el('button', 'evac-button', config.token ? t.save : t.submit);
  submit.type = 'submit';
  form.appendChild(submit);
  app.appendChild(form);
  app.appendChild(result);
  var qrBox = el('section', 'evac-qr');
  qrBox.id = 'evac-qr';
  qrBox.hidden = true;
  app.appendChild(qrBox);

  function addMember(member) {
    member = member || {};
    var box = el('div', 'evac-member');
    var n = field(box, t.member_name, input('text', 'member_name', {maxlength: 100}));
    n.value = member.name || '';
    var y = field(box, t.birth_year, input('number', 'birth_year', {min: 1900, max: new Date().getFullYear()}));
    y.value = member.birth_year || '';
    var care = input('checkbox', 'needs_care');
    care.checked = !!member.needs_care;
    field(box, t.needs_care, care).parentNode.classList.add('evac-check');
    var needs = field(box, t.needs, input('text', 'needs', {maxlength: 200}));
    needs.value = member.needs || '';
    var remove = el('button', 'evac-button-secondary', t.remove_member);
    remove.type = 'button';
    remove.addEventListener('click', function () {
      if (list.children.length > 1) list.removeChild(box);
    });
    box.appendChild(remove);
    list.appendChild(box);
  }
  add.addEventListener('click', function () {
    if (list.children.length < 20) addMember();
  });

  function collect() {
    var members = Array.prototype.map.call(list.children, function (box) {
      var year = box.querySelector('[name=birth_year]').value;
      return {
        name: box.querySelector('[name=member_name]').value.trim(),
        birth_year: year ? parseInt(year, 10) : null,
        needs_care: box.querySelector('[name=needs_care]').checked,
        needs: box.querySelector('[name=needs]').value.trim()
      };
    });
    return {
      representative_name: name.value.trim(),
      phone: phone.value.trim(),
      address: address.value.trim(),
      members: members,
      pets: parseInt(pets.value || '0', 10)
    };
  }

  function showQr(links) {
    while (qrBox.firstChild) qrBox.removeChild(qrBox.firstChild);
    var img = el('img');
    img.src = links.qr_svg;
    img.alt = t.qr_alt;
    img.width = 264;
    img.height = 264;
    qrBox.appendChild(img);
    [['download_svg', links.qr_svg], ['download_png', links.qr_png], ['page_link', links.url]].forEach(function (pair) {
      var a = el('a', 'evac-link', t[pair[0]]);
      a.href = pair[1];
      if (pair[0] !== 'page_link') a.setAttribute('download', '');
      var p = el('p');
      p.appendChild(a);
      qrBox.appendChild(p);
    });
    qrBox.appendChild(el('p', 'evac-help', t.keep_link));
    qrBox.hidden = false;
  }

  function setResult(state, message) {
    result.setAttribute('data-state', state);
    result.textContent = message;
  }

  form.addEventListener('submit', function (event) {
    event.preventDefault();
    setResult('sending', t.sending);
    var url = config.token ? '/api/register/' + encodeURIComponent(config.token) : '/api/register';
    fetch(url, {
      method: config.token ? 'PUT' : 'POST',
      credentials: 'same-origin',
      headers: {'Content-Type': 'application/json', Accept: 'application/json'},
      body: JSON.stringify(collect())
    }).then(function (response) {
      return response.json().then(function (body) {
        if (!response.ok) {
          var e = body.error || {};
          throw new Error(config.lang === 'en' ? e.message_en : e.message_ja);
        }
        return body;
      });
    }).then(function (links) {
      setResult('done', config.token ? t.saved : t.done);
      showQr(links);
    }).catch(function (error) {
      setResult('error', format(t.failed, {message: error.message}));
    });
  });

  if (config.token) {
    fetch('/api/register/' + encodeURIComponent(config.token), {credentials: 'same-origin'})
      .then(function (response) { return response.json(); })
      .then(function (own) {
        name.value = own.representative_name;
        phone.value = own.phone;
        address.value = own.address;
        pets.value = own.pets;
        (own.members || []).forEach(addMember);
        showQr(own);
      });
  } else {
    addMember();
  }
}());
