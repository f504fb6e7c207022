package sso

import (
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// The sign-in pages a browser is sent to. They stand in for AWS's sign-in
// and consent screens: no password, a user of the directory is chosen and
// Allow (or Deny) pressed.

// authRequest is an authorize request shown to the user, waiting for
// Allow or Deny.
type authRequest struct {
	id, clientID, clientName string
	redirectURI, state       string
	challenge                string
	scopes                   []string
	expires                  time.Time
}

// authCode is an authorization code waiting for CreateToken.
type authCode struct {
	clientID, redirectURI, challenge, user string
	scopes                                 []string
	expires                                time.Time
}

// maxFormBytes bounds a page's form body.
const maxFormBytes = 16 << 10

// authorizeParams are the checked query parameters of /authorize.
type authorizeParams struct {
	clientID, redirectURI, state, challenge string
	scopes                                  []string
}

// ParseAuthorizeQuery checks the query of GET /authorize as the AWS CLI
// v2 sends it (response_type=code, client_id, redirect_uri, state,
// code_challenge, code_challenge_method=S256, scopes space-separated);
// an error names the parameter. It does not look the client up.
func ParseAuthorizeQuery(q url.Values) (authorizeParams, error) {
	var p authorizeParams
	for _, k := range []string{"response_type", "client_id", "redirect_uri", "state", "code_challenge", "code_challenge_method", "scopes"} {
		if len(q[k]) > 1 {
			return p, errors.New(k + " is given more than once")
		}
	}
	if rt := q.Get("response_type"); rt != "code" {
		return p, errors.New("response_type must be code")
	}
	p.clientID, p.redirectURI, p.state, p.challenge = q.Get("client_id"), q.Get("redirect_uri"), q.Get("state"), q.Get("code_challenge")
	if p.clientID == "" || len(p.clientID) > 256 {
		return p, errors.New("client_id is required")
	}
	if _, err := parseRedirectURI(p.redirectURI); err != nil {
		return p, errors.New("redirect_uri: " + err.Error())
	}
	if len(p.state) > 1024 {
		return p, errors.New("state is longer than 1024 characters")
	}
	if m := q.Get("code_challenge_method"); m != "S256" {
		return p, errors.New("code_challenge_method must be S256 (PKCE is required)")
	}
	if err := CheckChallenge(p.challenge); err != nil {
		return p, err
	}
	for _, sc := range strings.Fields(q.Get("scopes")) {
		if !scopePattern.MatchString(sc) {
			return p, errors.New("scopes: invalid scope " + sc)
		}
		p.scopes = append(p.scopes, sc)
	}
	return p, nil
}

func (s *Service) authorizePage(w http.ResponseWriter, r *http.Request) {
	p, err := ParseAuthorizeQuery(r.URL.Query())
	if err != nil {
		s.errorPage(w, http.StatusBadRequest, "The sign-in request is not valid: "+err.Error()+".")
		return
	}
	s.mu.Lock()
	cl, ok := s.clients[p.clientID]
	switch {
	case !ok || !s.now().Before(cl.expires):
		err = errors.New("the application (client_id) is not registered, or its registration expired")
	case !cl.allows(GrantAuthCode):
		err = errors.New("the application is not registered for the authorization_code grant")
	case !redirectMatches(cl.redirectURIs, p.redirectURI):
		err = errors.New("redirect_uri is not one the application registered")
	}
	if err == nil && len(cl.scopes) > 0 {
		for _, sc := range p.scopes {
			if !slices.Contains(cl.scopes, sc) {
				err = errors.New("scope " + sc + " was not registered by the application")
			}
		}
	}
	var req *authRequest
	if err == nil {
		s.sweep()
		req = &authRequest{id: randomToken(32), clientID: cl.id, clientName: cl.name, redirectURI: p.redirectURI, state: p.state,
			challenge: p.challenge, scopes: p.scopes, expires: s.now().Add(10 * time.Minute)}
		s.requests[req.id] = req
	}
	s.mu.Unlock()
	if err != nil {
		s.errorPage(w, http.StatusBadRequest, "The sign-in request is not valid: "+err.Error()+".")
		return
	}
	s.render(w, http.StatusOK, authorizeTmpl, map[string]any{"Request": req.id, "Client": req.clientName, "Users": s.opts.Users, "Scopes": strings.Join(req.scopes, " ")})
}

func (s *Service) authorizeSubmit(w http.ResponseWriter, r *http.Request) {
	f, err := readForm(w, r)
	if err != nil {
		s.errorPage(w, http.StatusBadRequest, err.Error())
		return
	}
	s.mu.Lock()
	req, ok := s.requests[f.Get("request")]
	if ok {
		delete(s.requests, req.id)
		ok = s.now().Before(req.expires)
	}
	s.mu.Unlock()
	if !ok {
		s.errorPage(w, http.StatusBadRequest, "This sign-in request is unknown or expired: start the sign-in again from your terminal.")
		return
	}
	target, _ := url.Parse(req.redirectURI) // checked at /authorize
	q := target.Query()
	switch f.Get("action") {
	case "deny":
		q.Set("error", "access_denied")
		q.Set("error_description", "The user denied the request.")
	case "allow":
		user := f.Get("user")
		if _, known := s.users[user]; !known {
			s.errorPage(w, http.StatusBadRequest, "Choose a user of the directory.")
			return
		}
		code := randomToken(48)
		s.mu.Lock()
		s.codes[code] = &authCode{clientID: req.clientID, redirectURI: req.redirectURI, challenge: req.challenge, user: user,
			scopes: req.scopes, expires: s.now().Add(AuthCodeTTL)}
		s.mu.Unlock()
		q.Set("code", code)
	default:
		s.errorPage(w, http.StatusBadRequest, "Press Allow or Deny.")
		return
	}
	if req.state != "" {
		q.Set("state", req.state)
	}
	target.RawQuery = q.Encode()
	http.Redirect(w, r, target.String(), http.StatusFound)
}

func (s *Service) devicePage(w http.ResponseWriter, r *http.Request) {
	code := r.URL.Query().Get("user_code")
	if len(code) > 64 {
		code = ""
	}
	s.render(w, http.StatusOK, deviceTmpl, map[string]any{"Code": code, "Users": s.opts.Users})
}

func (s *Service) deviceSubmit(w http.ResponseWriter, r *http.Request) {
	f, err := readForm(w, r)
	if err != nil {
		s.errorPage(w, http.StatusBadRequest, err.Error())
		return
	}
	allow := f.Get("action") == "allow"
	if !allow && f.Get("action") != "deny" {
		s.errorPage(w, http.StatusBadRequest, "Press Allow or Deny.")
		return
	}
	if err := s.decide(f.Get("user_code"), f.Get("user"), allow); err != nil {
		s.errorPage(w, http.StatusBadRequest, err.Error())
		return
	}
	msg := "Request approved: you can close this window and return to your terminal."
	if !allow {
		msg = "Request denied: the application was not given access."
	}
	s.render(w, http.StatusOK, doneTmpl, map[string]any{"Message": msg})
}

func (s *Service) startPage(w http.ResponseWriter, r *http.Request) {
	s.render(w, http.StatusOK, startTmpl, map[string]any{"StartURL": s.StartURL(), "Users": s.opts.Users})
}

// readForm parses a page's url-encoded form body (bounded).
func readForm(w http.ResponseWriter, r *http.Request) (url.Values, error) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		return nil, errors.New("the form could not be read: " + err.Error())
	}
	return r.PostForm, nil
}

func (s *Service) errorPage(w http.ResponseWriter, status int, msg string) {
	s.render(w, status, doneTmpl, map[string]any{"Message": msg, "Error": true})
}

func (s *Service) render(w http.ResponseWriter, status int, t *template.Template, data map[string]any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Frame-Options", "DENY")
	w.WriteHeader(status)
	if err := t.Execute(w, data); err != nil {
		s.log.Error("render sign-in page", "err", err)
	}
}

const pageHead = `<!doctype html><html><head><meta charset="utf-8"><title>jitssh sandbox: IAM Identity Center</title></head><body>
<h1>jitssh sandbox: IAM Identity Center</h1>`

var (
	authorizeTmpl = template.Must(template.New("authorize").Parse(pageHead + `
<form method="post" action="/authorize">
<p>The application <b>{{.Client}}</b> asks for access{{if .Scopes}} ({{.Scopes}}){{end}}.</p>
<input type="hidden" name="request" value="{{.Request}}">
<p><label>Sign in as <select name="user">{{range .Users}}<option value="{{.UserName}}">{{.UserName}} ({{.Email}})</option>{{end}}</select></label></p>
<p><button type="submit" name="action" value="allow">Allow</button> <button type="submit" name="action" value="deny">Deny</button></p>
</form></body></html>`))
	deviceTmpl = template.Must(template.New("device").Parse(pageHead + `
<form method="post" action="/device">
<p><label>Code <input name="user_code" value="{{.Code}}" autocomplete="off"></label></p>
<p><label>Sign in as <select name="user">{{range .Users}}<option value="{{.UserName}}">{{.UserName}} ({{.Email}})</option>{{end}}</select></label></p>
<p><button type="submit" name="action" value="allow">Allow</button> <button type="submit" name="action" value="deny">Deny</button></p>
</form></body></html>`))
	doneTmpl = template.Must(template.New("done").Parse(pageHead + `
<p{{if .Error}} class="error"{{end}}>{{.Message}}</p></body></html>`))
	startTmpl = template.Must(template.New("start").Parse(pageHead + `
<p>The AWS access portal of the sandbox. Its start URL is <code>{{.StartURL}}</code>: sign in with
jitssh's login command (or the AWS CLI v2's <code>aws sso login</code>).</p>
<ul>{{range .Users}}<li>{{.UserName}} ({{.Email}}){{range .Assignments}}: {{.PermissionSet}} in {{.Account}}{{end}}</li>{{end}}</ul>
</body></html>`))
)
