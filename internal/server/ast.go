package server

import (
	"context"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"kiln/internal/ast"
	"kiln/internal/imgenc"
	"kiln/internal/keys"
	"kiln/internal/netguard"
	"kiln/internal/pagerender"
	"kiln/internal/pipeline"
	"kiln/internal/renderq"
	"kiln/internal/signedurl"
)

// The Alexa Site Thumbnail (AST) compatible API: the QUERY API on /,
// /xino, /xino/ and /xino/xml (any case), SOAP on /soap, the WSDL, and the
// placeholder images. internal/ast reads and writes the wire format; this
// side authenticates with the keys, applies the key's limits, asks the
// page pipeline and hands out signed image URLs.

// ASTOptions configure the AST API. It needs Thumbs' Pages, Guard and
// Keys: every AST call is signed with a key.
type ASTOptions struct {
	Enabled      bool
	Namespace    string        // of QUERY answers; "" for ast.RESTNamespace
	SignedURLTTL time.Duration // how long the image URLs of Exists="true" answers work
}

// astPlaceholderPrefix is where the placeholder images are served.
const astPlaceholderPrefix = "/ast/placeholder/"

// astMaxBody bounds a POST form or a SOAP envelope: 20 URLs of
// thumbnails.max_url_length, URL-encoded, fit many times over.
const astMaxBody = 1 << 20

// astParallel is how many URLs of a batch are looked up at once (each may
// resolve a host name).
const astParallel = 8

func (s *Server) astOn() bool {
	t := s.opts.Thumbs
	return s.opts.AST.Enabled && t.Pages != nil && t.Guard != nil && t.Keys != nil
}

// astRoutes registers the AST routes of their own and returns the
// handlers for "/" and for paths no route has, which send AST calls to
// the QUERY API and everything else to index and other.
func (s *Server) astRoutes(index, other http.HandlerFunc) (root, rest http.HandlerFunc) {
	ast.Placeholder(ast.Small) // drawn now rather than on the first call
	query := s.instrument("ast", s.astQuery)
	s.handle("POST /soap", "ast_soap", s.astSOAP)
	s.handle("GET /soap", "ast_wsdl", s.astWSDL) // /soap?wsdl, as toolkits ask
	s.handle("GET "+ast.WSDLPath, "ast_wsdl", s.astWSDL)
	s.handle("GET "+ast.SchemaPath, "ast_wsdl", s.astSchema)
	s.handle("GET "+astPlaceholderPrefix+"{file}", "ast_placeholder", s.astPlaceholder)
	root = func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodPost || r.URL.Query().Has("Action"):
			query(w, r)
		case r.Method == http.MethodGet || r.Method == http.MethodHead:
			index(w, r)
		default:
			query(w, r) // InvalidHttpRequest
		}
	}
	rest = func(w http.ResponseWriter, r *http.Request) {
		switch strings.ToLower(r.URL.Path) {
		case "/xino", "/xino/", "/xino/xml":
			query(w, r)
		default:
			other(w, r)
		}
	}
	return root, rest
}

// astQuery answers the QUERY API, GET or POST.
func (s *Server) astQuery(w http.ResponseWriter, r *http.Request) {
	id := ast.NewRequestID()
	var vals map[string][]string
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		vals = r.URL.Query()
	case http.MethodPost:
		// A SOAP stub generated from Amazon's WSDL posts to the endpoint
		// that WSDL named (not /soap), so an envelope is SOAP wherever it
		// arrives.
		if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "text/xml" || mt == "application/soap+xml" {
			s.astSOAP(w, r)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, astMaxBody)
		// A malformed pair (a ';', a bad escape) is skipped, as in r.URL.Query().
		if err := r.ParseForm(); err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				s.astError(w, ast.InvalidValue("body", strconv.FormatInt(tooBig.Limit, 10)+" bytes", "the request is too large"), id)
				return
			}
		}
		vals = r.Form
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		s.astError(w, &ast.Error{Code: ast.CodeInvalidHTTPRequest, Message: "The QUERY API answers GET and POST, not " + r.Method + "."}, id)
		return
	}
	req, aerr := ast.ParseQuery(vals)
	if aerr == nil {
		var results []ast.Result
		if results, aerr = s.astCall(w, r, req); aerr == nil {
			h := w.Header()
			h.Set("Cache-Control", "no-store")
			if req.Action == ast.ActionRedirect {
				http.Redirect(w, r, results[0].Image, http.StatusFound)
				return
			}
			h.Set("Content-Type", ast.ContentType)
			w.Write(ast.ResponseXML(s.astNamespace(), id, results))
			return
		}
	}
	s.astError(w, aerr, id)
}

// astSOAP answers the SOAP API, whatever SOAPAction says.
func (s *Server) astSOAP(w http.ResponseWriter, r *http.Request) {
	id := ast.NewRequestID()
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, astMaxBody))
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return
		}
		s.astFault(w, &ast.Error{Code: ast.CodeInvalidSOAPRequest, Message: "The request body could not be read: " + err.Error() + "."}, id)
		return
	}
	req, aerr := ast.ParseSOAP(body)
	if aerr == nil {
		var results []ast.Result
		if results, aerr = s.astCall(w, r, req); aerr == nil {
			h := w.Header()
			h.Set("Content-Type", ast.ContentType)
			h.Set("Cache-Control", "no-store")
			w.Write(ast.SOAPResponseXML(id, results))
			return
		}
	}
	s.astFault(w, aerr, id)
}

// astCall authenticates a parsed call, applies its key's limits and
// answers its URLs. It sets Retry-After on w when it throttles.
func (s *Server) astCall(w http.ResponseWriter, r *http.Request, req *ast.Request) ([]ast.Result, *ast.Error) {
	o := s.opts.Thumbs
	ctx := r.Context()
	now := time.Now()
	if e := ast.CheckCredentials(req.Cred, now); e != nil {
		return nil, e
	}
	key, secret, err := o.Keys.Secret(ctx, req.Cred.AccessKeyID)
	switch {
	case errors.Is(err, keys.ErrUnknown):
		return nil, ast.UnknownKey()
	case errors.Is(err, keys.ErrRevoked):
		return nil, ast.RevokedKey()
	case err != nil:
		s.log.Error("AST: reading a key", "key", req.Cred.AccessKeyID, "err", err)
		return nil, ast.Internal()
	}
	defer clear(secret)
	if e := ast.Verify(req.Cred, req.Action, secret); e != nil {
		return nil, e
	}
	if !key.AST {
		return nil, ast.NoAST()
	}
	if !o.Keys.Allow(key.ID) {
		w.Header().Set("Retry-After", "1")
		return nil, ast.Throttled("the access key's request rate limit is exceeded")
	}
	over, err := o.Keys.OverQuota(ctx, key.ID)
	if err != nil {
		s.log.Error("AST: checking a key's quota", "key", key.ID, "err", err)
		return nil, ast.Internal()
	}
	if over {
		now := now.UTC()
		next := time.Date(now.Year(), now.Month()+1, 1, 0, 0, 0, 0, time.UTC)
		w.Header().Set("Retry-After", strconv.Itoa(int(next.Sub(now).Seconds())+1))
		return nil, ast.Throttled("the access key's monthly quota of " + strconv.FormatInt(key.Quota, 10) +
			" thumbnails is used up until " + next.Format("2006-01-02"))
	}
	if req.Err != nil {
		o.Keys.Record(ctx, key.ID, 1, 0)
		return nil, req.Err
	}
	if !s.thumbSlot(key.ID) {
		w.Header().Set("Retry-After", "1")
		return nil, ast.Throttled("too many calls of this access key are in progress")
	}
	defer s.thumbDone(key.ID)
	base := s.baseURL(r)
	expires := astExpiry(now, s.opts.AST.SignedURLTTL)
	results := make([]ast.Result, len(req.Items))
	var wg sync.WaitGroup
	slots := make(chan struct{}, astParallel)
	for i, it := range req.Items {
		slots <- struct{}{}
		wg.Go(func() {
			results[i] = s.astItem(ctx, it, key.ID, secret, base, expires)
			<-slots
		})
	}
	wg.Wait()
	// A call for one URL fails as a whole; in a batch, each item on its own.
	if len(results) == 1 && results[0].Err != nil {
		o.Keys.Record(ctx, key.ID, 1, 0)
		return nil, results[0].Err
	}
	var billed int64
	for _, res := range results {
		if res.Exists {
			billed++ // as AST billed: only thumbnails that exist
		}
	}
	o.Keys.Record(ctx, key.ID, 1, billed)
	return results, nil
}

// astItem answers one URL: its thumbnail's signed URL if the thumbnail is
// cached (Exists="true"), else the placeholder, queueing the page as AST
// did. A URL that is malformed or that kiln may not load is the item's
// error.
func (s *Server) astItem(ctx context.Context, it ast.Item, keyID string, secret []byte, base string, expires time.Time) ast.Result {
	o := s.opts.Thumbs
	res := ast.Result{RequestURL: it.URL, Image: base + astPlaceholderPrefix + it.Size.PlaceholderFile()}
	if it.Err != nil {
		res.Err = it.Err
		return res
	}
	// A forbidden address or a malformed URL is refused before anything
	// is queued; a name that does not resolve is a page that cannot be
	// loaded now, answered as one that failed: the placeholder.
	u, err := o.Guard.CheckURL(ctx, it.URL, o.MaxURL)
	switch {
	case err == nil:
	case errors.Is(err, netguard.ErrDNS):
		return res
	case errors.Is(err, netguard.ErrForbidden):
		res.Err = ast.InvalidValue(it.Param, it.URL, "kiln does not load pages there ("+err.Error()+")")
		return res
	default:
		res.Err = ast.InvalidValue(it.Param, it.URL, strings.TrimPrefix(err.Error(), netguard.ErrBadURL.Error()+": "))
		return res
	}
	size := pagerender.Large
	if it.Size == ast.Small {
		size = pagerender.Small
	}
	page := u.String()
	_, err = o.Pages.Thumbnail(ctx, pipeline.ThumbRequest{URL: page, Size: size, Format: imgenc.JPEG, Priority: renderq.OnDemand, NoWait: true})
	var pe *pagerender.PageError
	switch {
	case err == nil: // fresh, or stale with a refresh queued
		res.Exists = true
		res.Image = base + signedurl.Path(secret, signedurl.Request{KeyID: keyID, Expires: expires, Size: it.Size.Name(), AST: true, URL: page, Format: "jpeg"})
	case errors.Is(err, pipeline.ErrQueued), errors.Is(err, renderq.ErrDeferred):
		// Queued: the placeholder now, the thumbnail on a later call.
	case errors.As(err, &pe), errors.Is(err, pipeline.ErrUnavailable):
		// The page failed lately (its failure is cached) or the queue is
		// full: the placeholder, as AST answered whatever it did not have.
	case ctx.Err() != nil:
		res.Err = ast.Internal()
	default:
		s.log.Error("AST: thumbnail lookup failed", "url", page, "err", err)
		res.Err = ast.Internal()
	}
	return res
}

// astExpiry is when the image URLs handed out now expire: ttl from now,
// rounded up to a step (an eighth of ttl, 1 s to an hour) so that calls
// within the step hand out the same URL, which browsers then cache.
func astExpiry(now time.Time, ttl time.Duration) time.Time {
	if ttl <= 0 {
		ttl = 24 * time.Hour
	}
	step := min(max((ttl/8).Truncate(time.Second), time.Second), time.Hour) // whole seconds, as URLs carry them
	return now.Add(ttl + step - 1).Truncate(step)
}

func (s *Server) astNamespace() string {
	if s.opts.AST.Namespace != "" {
		return s.opts.AST.Namespace
	}
	return ast.RESTNamespace
}

// astError answers a QUERY call with the AWS 2006 error document.
func (s *Server) astError(w http.ResponseWriter, e *ast.Error, id string) {
	h := w.Header()
	h.Set("Content-Type", ast.ContentType)
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(e.Status())
	w.Write(ast.ErrorXML(e, id))
}

// astFault answers a SOAP call with a fault: HTTP 500, as SOAP 1.1 wants.
func (s *Server) astFault(w http.ResponseWriter, e *ast.Error, id string) {
	h := w.Header()
	h.Set("Content-Type", ast.ContentType)
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusInternalServerError)
	w.Write(ast.FaultXML(e, id))
}

// astWSDL serves the WSDL with soap:address at this server's /soap.
func (s *Server) astWSDL(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", ast.ContentType)
	h.Set("Cache-Control", "public, max-age=3600")
	w.Write(ast.WSDL(s.baseURL(r) + "/soap"))
}

func (s *Server) astSchema(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", ast.ContentType)
	h.Set("Cache-Control", "public, max-age=3600")
	w.Write(ast.Schema())
}

// astPlaceholder serves the "image coming soon" GIFs.
func (s *Server) astPlaceholder(w http.ResponseWriter, r *http.Request) {
	var b []byte
	switch r.PathValue("file") {
	case ast.Small.PlaceholderFile():
		b = ast.Placeholder(ast.Small)
	case ast.Large.PlaceholderFile():
		b = ast.Placeholder(ast.Large)
	default:
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "image/gif")
	h.Set("Cache-Control", "public, max-age=86400")
	s.cors(h)
	etag := etagOf(b)
	h.Set("Etag", etag)
	if r.Header.Get("If-None-Match") != "" && notModified(r, etag, time.Time{}) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.Write(b)
}
