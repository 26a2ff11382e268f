package server

import (
	"bytes"
	"encoding/json"
	"image"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// debianPython is Debian's Python, where apt's python3-zeep installs
// (scripts/test installs both); not whatever python3 is first on PATH.
const debianPython = "/usr/bin/python3"

// requirePython skips the test when Debian's Python or one of modules is
// missing, or fails it under KILN_REQUIRE_INTEROP=1, as internal/browsertest
// does for Chromium.
func requirePython(t *testing.T, modules ...string) {
	t.Helper()
	missing := func(why string) {
		if os.Getenv("KILN_REQUIRE_INTEROP") == "1" {
			t.Fatalf("the AST interoperability tests need %s", why)
		}
		t.Skipf("no %s; scripts/test installs it (apt-get install python3 python3-zeep)", why)
	}
	if _, err := os.Stat(debianPython); err != nil {
		missing(debianPython)
	}
	for _, m := range modules {
		if out, err := exec.Command(debianPython, "-c", "import "+m).CombinedOutput(); err != nil {
			missing("Python module " + m + " (" + strings.TrimSpace(string(out)) + ")")
		}
	}
}

// runPython runs a script of testdata/ast with Debian's Python, no proxy
// in the way of the test server on 127.0.0.1.
func runPython(t *testing.T, env []string, script string, args ...string) string {
	t.Helper()
	cmd := exec.Command(debianPython, append([]string{"testdata/ast/" + script}, args...)...)
	for _, e := range os.Environ() {
		if !strings.Contains(strings.ToLower(strings.SplitN(e, "=", 2)[0]), "proxy") {
			cmd.Env = append(cmd.Env, e)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s", script, err, stderr.String())
	}
	return string(out)
}

// TestASTPythonClient runs the 2007 Python client (ported to Python 3) against
// kiln, with only its endpoint changed: placeholders first, then signed
// thumbnail URLs that serve the thumbnails.
func TestASTPythonClient(t *testing.T) {
	requirePython(t)
	f := newASTFixture(t, nil)
	env := []string{"AST_ENDPOINT=" + f.http.URL + "/?", "AWS_ACCESS_KEY_ID=" + f.id, "AWS_SECRET_ACCESS_KEY=" + f.secret}
	args := []string{"Small", "kelvinism.good.test", "good.test", "http://good.test/alexa", "good.test/vpslink"}
	got := strings.Fields(runPython(t, env, "ThumbnailUtility.py", args...))
	if len(got) != 4 {
		t.Fatalf("%d URLs: %v", len(got), got)
	}
	for _, u := range got {
		if u != f.http.URL+"/ast/placeholder/small.gif" {
			t.Errorf("before rendering: %s, want the placeholder", u)
		}
	}
	f.waitRendered(t, "kelvinism.good.test", "good.test", "http://good.test/alexa", "good.test/vpslink")
	got = strings.Fields(runPython(t, env, "ThumbnailUtility.py", args...))
	if len(got) != 4 {
		t.Fatalf("%d URLs: %v", len(got), got)
	}
	for _, u := range got {
		if !strings.HasPrefix(u, f.http.URL+"/thumbnail/") {
			t.Fatalf("after rendering: %s", u)
		}
		if img := fetch(t, u, "image/jpeg"); img.Bounds().Size() != image.Pt(111, 82) {
			t.Errorf("%s: %v", u, img.Bounds().Size())
		}
	}
}

func init() {
	// Names the Python clients ask for, on the test servers' address.
	for _, name := range []string{"kelvinism.good.test", "www.good.test"} {
		testResolver[name] = testResolver["good.test"]
	}
}

// zeepOut is what zeep_client.py prints.
type zeepOut struct {
	Address string `json:"address"`
	Batch   zeepCall
	NoURL   zeepCall `json:"no_url"`
	BadSig  zeepCall `json:"bad_signature"`
}

type zeepCall struct {
	Answers []struct {
		RequestID  string `json:"request_id"`
		Exists     bool   `json:"exists"`
		Image      string `json:"image"`
		RequestURL string `json:"request_url"`
		Status     string `json:"status"`
	} `json:"answers"`
	Fault *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"fault"`
}

// TestASTZeep generates a SOAP client from kiln's WSDL with zeep and calls
// kiln with it: a batch with the credentials in the first Request, a
// Request without a Url (which the toolkit sends and kiln refuses with a
// fault, unlike ZSI against Amazon's WSDL), a wrong signature.
func TestASTZeep(t *testing.T) {
	requirePython(t, "zeep")
	f := newASTFixture(t, nil)
	urls := []string{"www.good.test", "good.test/amazon", "http://good.test/a9"}
	run := func() zeepOut {
		var out zeepOut
		s := runPython(t, nil, "zeep_client.py", append([]string{f.http.URL + "/doc/2006-05-15/AlexaSiteThumbnail.wsdl", f.id, f.secret}, urls...)...)
		if err := json.Unmarshal([]byte(s), &out); err != nil {
			t.Fatalf("%v: %s", err, s)
		}
		return out
	}
	out := run()
	if out.Address != f.http.URL+"/soap" {
		t.Errorf("soap:address %s, want %s/soap", out.Address, f.http.URL)
	}
	if out.Batch.Fault != nil || len(out.Batch.Answers) != 3 {
		t.Fatalf("batch: %+v", out.Batch)
	}
	for i, a := range out.Batch.Answers {
		if a.Exists || a.Image != f.http.URL+"/ast/placeholder/small.gif" || a.RequestURL != urls[i] || a.Status != "Success" || !uuidRE.MatchString(a.RequestID) {
			t.Errorf("answer %d before rendering: %+v", i, a)
		}
	}
	if fl := out.NoURL.Fault; fl == nil || fl.Code != "SOAP-ENV:Client.MissingParameter" || !strings.Contains(fl.Message, "Request.1.Url") {
		t.Errorf("a Request without Url: %+v", out.NoURL)
	}
	if fl := out.BadSig.Fault; fl == nil || fl.Code != "SOAP-ENV:Client.SignatureDoesNotMatch" {
		t.Errorf("wrong secret: %+v", out.BadSig)
	}
	f.waitRendered(t, urls...)
	before := f.usage(t)
	out = run()
	for i, a := range out.Batch.Answers {
		if !a.Exists || !strings.HasPrefix(a.Image, f.http.URL+"/thumbnail/") || a.RequestURL != urls[i] {
			t.Errorf("answer %d after rendering: %+v", i, a)
			continue
		}
		if img := fetch(t, a.Image, "image/jpeg"); img.Bounds().Size() != image.Pt(111, 82) {
			t.Errorf("%s: %v", a.Image, img.Bounds().Size())
		}
	}
	if u := f.usage(t); u.Thumbnails-before.Thumbnails != 3 {
		t.Errorf("usage went from %+v to %+v: want the 3 thumbnails of the batch billed", before, u)
	}
}
