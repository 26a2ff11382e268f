package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"kiln/internal/keys"
	"kiln/internal/netguard"
	"kiln/internal/pagerender"
	"kiln/internal/signedurl"
)

const keysUsage = `usage: kiln keys [--config FILE] [--data DIR] create NAME [--rate R] [--burst B] [--quota Q] [--no-ast]
       kiln keys [--config FILE] [--data DIR] list
       kiln keys [--config FILE] [--data DIR] revoke ID
       kiln keys [--config FILE] [--data DIR] sign ID URL [--size S] [--format F] [--full-page] [--ttl D] [--base URL]

API keys for the thumbnail API and the AST-compatible API, in DATA/kiln.db.
create prints the new key's id and secret, the only time the secret is
shown; list shows every key with this month's (UTC) usage; revoke stops a
key at once and for good; sign prints a signed, expiring thumbnail URL of
a page for <img src> (no key in the page). A sub-command's flags go before
or after its arguments; --config and --data before or after the
sub-command. New keys get thumbnails.rate and thumbnails.burst unless told
otherwise.

flags:
`

// createFlags are the flags of keys create.
type createFlags struct {
	rate  float64
	burst int
	quota int64
	noAST bool
}

// signFlags are the flags of keys sign.
type signFlags struct {
	size, format, base string
	fullPage           bool
	ttl                time.Duration
}

func (f *signFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.size, "size", "large", "sign: small, large or WxH")
	fs.StringVar(&f.format, "format", "jpeg", "sign: png, jpeg or webp")
	fs.BoolVar(&f.fullPage, "full-page", false, "sign: a capture of the whole page")
	fs.DurationVar(&f.ttl, "ttl", 0, "sign: how long the URL works (0: thumbnails.signed_url_ttl)")
	fs.StringVar(&f.base, "base", "", "sign: the server's address to put before the path, e.g. https://thumbs.example.com")
}

func (f *createFlags) register(fs *flag.FlagSet) {
	fs.Float64Var(&f.rate, "rate", 0, "create: requests per second the key may make (0: unlimited)")
	fs.IntVar(&f.burst, "burst", 0, "create: requests at once above --rate (0: the rate rounded up)")
	fs.Int64Var(&f.quota, "quota", 0, "create: billed thumbnails per calendar month, UTC (0: unlimited)")
	fs.BoolVar(&f.noAST, "no-ast", false, "create: refuse the key on the AST-compatible API")
}

func keysCmd(ctx context.Context, args []string, io IO) error {
	fs := flags("keys", io)
	var c common
	c.register(fs)
	fs.Usage = func() {
		all := flag.NewFlagSet("", flag.ContinueOnError)
		new(common).register(all)
		new(createFlags).register(all)
		new(signFlags).register(all)
		all.SetOutput(fs.Output())
		fmt.Fprint(fs.Output(), keysUsage)
		all.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if fs.NArg() == 0 {
		return usagef("want a sub-command: create NAME, list or revoke ID")
	}
	sub := fs.Arg(0)

	sfs := flags("keys "+sub, io)
	sfs.Usage = fs.Usage
	var after common // --config and --data after the sub-command
	after.register(sfs)
	var cf createFlags
	var sf signFlags
	want := 0 // positional arguments of the sub-command
	switch sub {
	case "sign":
		sf.register(sfs)
		want = 2
	case "create":
		cf.register(sfs)
		want = 1
	case "list":
	case "revoke":
		want = 1
	default:
		return usagef("unknown sub-command %q: want create, list, revoke or sign", sub)
	}
	pos, err := parseInterleaved(sfs, fs.Args()[1:])
	if err != nil {
		return err
	}
	switch {
	case len(pos) < want && sub == "create":
		return usagef("create needs a NAME")
	case len(pos) < want && sub == "sign":
		return usagef("sign needs a key ID and a page URL")
	case len(pos) < want:
		return usagef("revoke needs a key ID")
	case len(pos) > want:
		return usagef("%s: unexpected argument %q", sub, pos[want])
	case cf.rate < 0 || math.IsNaN(cf.rate) || math.IsInf(cf.rate, 0):
		return usagef("--rate %v: want requests per second, 0 for unlimited", cf.rate)
	case cf.burst < 0:
		return usagef("--burst %d: want 0 or more", cf.burst)
	case cf.quota < 0:
		return usagef("--quota %d: want thumbnails per month, 0 for unlimited", cf.quota)
	}
	if after.config != "" {
		c.config = after.config
	}
	if after.data != "" {
		c.data = after.data
	}

	cfg, err := c.load()
	if err != nil {
		return err
	}
	if err := mkdirData(cfg.Data); err != nil {
		return err
	}
	store, err := keys.OpenOptions(ctx, cfg.Data, keys.Options{Rate: cfg.Thumbnails.Rate, Burst: cfg.Thumbnails.Burst})
	if err != nil {
		return err
	}
	defer store.Close()

	switch sub {
	case "create":
		l := store.Defaults()
		sfs.Visit(func(f *flag.Flag) {
			switch f.Name {
			case "rate":
				l.Rate = cf.rate
			case "burst":
				l.Burst = cf.burst
			case "quota":
				l.Quota = cf.quota
			case "no-ast":
				l.AST = !cf.noAST
			}
		})
		k, secret, err := store.CreateWith(ctx, pos[0], l)
		if errors.Is(err, keys.ErrInvalid) {
			return usageError{err}
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(io.Out, "access_key_id: %s\nsecret_access_key: %s\n", k.ID, secret)
	case "list":
		return listKeys(ctx, store, io)
	case "revoke":
		id := pos[0]
		if !keys.ValidID(id) {
			// Not echoed: it may be a secret pasted in the wrong place.
			return usagef("revoke: not a key id (20 upper-case letters and digits starting AKK)")
		}
		err := store.Revoke(ctx, id)
		if errors.Is(err, keys.ErrUnknown) {
			return usagef("no key %s", id)
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(io.Out, "revoked %s\n", id)
	case "sign":
		if sf.ttl <= 0 {
			sf.ttl = cfg.Thumbnails.SignedURLTTL
		}
		path, err := signThumbURL(ctx, store, pos[0], pos[1], sf, cfg.Thumbnails.MaxURLLength)
		if err != nil {
			return err
		}
		fmt.Fprintln(io.Out, strings.TrimSuffix(sf.base, "/")+path)
	}
	return store.Close()
}

// signThumbURL makes the signed path of a thumbnail with key id's secret.
func signThumbURL(ctx context.Context, store *keys.Store, id, rawURL string, f signFlags, maxURL int) (string, error) {
	if !keys.ValidID(id) {
		return "", usagef("sign: not a key id (20 upper-case letters and digits starting AKK)")
	}
	size, err := pagerender.ParseSize(f.size)
	if err != nil {
		return "", usagef("--size: %v", err)
	}
	format, err := pagerender.ParseFormat(f.format)
	if err != nil {
		return "", usagef("--format: %v", err)
	}
	u, err := netguard.ParseURL(rawURL, maxURL)
	if err != nil {
		return "", usageError{err}
	}
	_, secret, err := store.Secret(ctx, id)
	switch {
	case errors.Is(err, keys.ErrUnknown):
		return "", usagef("no key %s", id)
	case errors.Is(err, keys.ErrRevoked):
		return "", usagef("key %s is revoked", id)
	case err != nil:
		return "", err
	}
	return signedurl.Path(secret, signedurl.Request{KeyID: id, Expires: time.Now().Add(f.ttl), Size: size.String(),
		FullPage: f.fullPage, URL: u.String(), Format: format.String()}), nil
}

// parseInterleaved parses flags mixed with positional arguments, which the
// flag package stops at, and returns the positional ones.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageError{err}
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// listKeys prints every key with this month's usage as a table.
func listKeys(ctx context.Context, store *keys.Store, io IO) error {
	list, err := store.List(ctx)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(io.Out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tNAME\tCREATED\tSTATUS\tREQUESTS\tTHUMBNAILS\tQUOTA\tRATE\tBURST\tAST")
	for _, k := range list {
		u, err := store.Usage(ctx, k.ID)
		if err != nil {
			return err
		}
		status := "active"
		if !k.Active() {
			status = "revoked"
		}
		quota, rate, burst := "unlimited", "unlimited", "-"
		if k.Quota > 0 {
			quota = strconv.FormatInt(k.Quota, 10)
		}
		if k.Rate > 0 {
			rate = strconv.FormatFloat(k.Rate, 'g', -1, 64) + "/s"
			burst = "auto"
			if k.Burst > 0 {
				burst = strconv.Itoa(k.Burst)
			}
		}
		ast := "yes"
		if !k.AST {
			ast = "no"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%d\t%d\t%s\t%s\t%s\t%s\n", k.ID, k.Name, k.Created.Format(time.RFC3339), status,
			u.Requests, u.Thumbnails, quota, rate, burst, ast)
	}
	return w.Flush()
}
