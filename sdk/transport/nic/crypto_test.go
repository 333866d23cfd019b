package nic

import (
	"bytes"
	"crypto/aes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/carrierhub/hub/sdk"
)

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func code(err error) sdk.Code {
	if err == nil {
		return ""
	}
	return sdk.AsError(err).Code
}

// FIPS-197 appendix C.3 (AES-256) checks the block-by-block ECB and that PKCS#7
// appends one whole block of 0x10 to a block-aligned plaintext.
func TestEncryptECBKnownAnswer(t *testing.T) {
	key := mustHex(t, "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")
	pt := mustHex(t, "00112233445566778899aabbccddeeff")
	ct, err := EncryptECB(key, pt)
	if err != nil {
		t.Fatal(err)
	}
	if len(ct) != 32 {
		t.Fatalf("ciphertext is %d bytes, want 32 (data block + full padding block)", len(ct))
	}
	if got := hex.EncodeToString(ct[:16]); got != "8ea2b7ca516745bfeafc49904b496089" {
		t.Fatalf("first block %s, want FIPS-197 C.3 vector", got)
	}
	block, _ := aes.NewCipher(key)
	want := make([]byte, 16)
	block.Encrypt(want, bytes.Repeat([]byte{16}, 16))
	if !bytes.Equal(ct[16:], want) {
		t.Fatalf("second block is not AES(key, 16 x 0x10)")
	}
	back, err := DecryptECB(key, ct)
	if err != nil || !bytes.Equal(back, pt) {
		t.Fatalf("round trip: %x, %v", back, err)
	}
}

func TestECBRoundTripAllLengths(t *testing.T) {
	key := bytes.Repeat([]byte{7}, KeySize)
	for n := 0; n <= 50; n++ {
		pt := bytes.Repeat([]byte{'x'}, n)
		ct, err := EncryptECB(key, pt)
		if err != nil {
			t.Fatal(err)
		}
		if want := (n/16 + 1) * 16; len(ct) != want {
			t.Fatalf("len %d: ciphertext %d bytes, want %d", n, len(ct), want)
		}
		back, err := DecryptECB(key, ct)
		if err != nil || !bytes.Equal(back, pt) {
			t.Fatalf("len %d: round trip failed: %v", n, err)
		}
	}
}

func TestECBBadInput(t *testing.T) {
	key := bytes.Repeat([]byte{1}, KeySize)
	for _, k := range [][]byte{nil, make([]byte, 16), make([]byte, 31), make([]byte, 33)} {
		if _, err := EncryptECB(k, []byte("x")); code(err) != sdk.CodeInternal || !strings.Contains(err.Error(), "want 32") {
			t.Errorf("key %d bytes: encrypt err %v", len(k), err)
		}
		if _, err := DecryptECB(k, make([]byte, 16)); code(err) != sdk.CodeInternal {
			t.Errorf("key %d bytes: decrypt err %v", len(k), err)
		}
	}
	for _, n := range []int{0, 1, 15, 17, 31} {
		_, err := DecryptECB(key, make([]byte, n))
		if code(err) != sdk.CodePermanent || !strings.Contains(err.Error(), "not a non-zero multiple of 16") {
			t.Errorf("ciphertext %d bytes: %v", n, err)
		}
	}
	// Final blocks with bad padding, encrypted raw so the check sees exactly them.
	block, _ := aes.NewCipher(key)
	bad := map[string][]byte{
		"pad 0":        append(bytes.Repeat([]byte{'a'}, 15), 0),
		"pad 17":       append(bytes.Repeat([]byte{'a'}, 15), 17),
		"pad 255":      append(bytes.Repeat([]byte{'a'}, 15), 255),
		"inconsistent": append(bytes.Repeat([]byte{'a'}, 13), 3, 2, 3),
		"short run":    append(bytes.Repeat([]byte{'a'}, 12), 'a', 4, 4, 4),
		"16 not all":   append([]byte{15}, bytes.Repeat([]byte{16}, 15)...),
	}
	for name, last := range bad {
		ct := make([]byte, 16)
		block.Encrypt(ct, last)
		_, err := DecryptECB(key, ct)
		if code(err) != sdk.CodePermanent || !strings.Contains(err.Error(), "invalid PKCS#7 padding") {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestUnpadPKCS7(t *testing.T) {
	for n := 1; n <= 16; n++ {
		last := append(bytes.Repeat([]byte{'z'}, 16-n), bytes.Repeat([]byte{byte(n)}, n)...)
		got, ok := unpadPKCS7(last)
		if !ok || got != n {
			t.Fatalf("pad %d: got %d %v", n, got, ok)
		}
	}
}

// Public sample values from the Masters India NIC pass-through client
// (github.com/mas02/eway__integration_code_python, eway.py): two logins of the
// same user with different app keys. Both SEK ciphertexts are 48 bytes and decrypt
// to the same 32-byte key followed by a full block of 0x10: AES-256-ECB with PKCS#7
// padding under the Base64-decoded app key, and NIC re-sends the same SEK inside
// the token's lifetime.
func TestDecryptSEKPublicSample(t *testing.T) {
	samples := []struct{ appKey, sek string }{
		{"YjNJSlozeFd1VFlGWU5Sb2MwVWtnWGtZdnExTVBOWTg=", "eqbwqHCb39fPqBAGNUAGdxgi59yLdJl0+cq0Yyj7HAPQZxPgZOGoXmgmPSrhLGoX"},
		{"QjZxRTJqbTU2U29hOGg3ZDhMSFk4NmR2dnFVZlhOSmk=", "T0QFxIuhyEs42r77csWgw9PvNOQut1d+or1GjVTMUIp7fYZSz/8OtGYOUmFnMOB8"},
	}
	const want = "73ff432e0d13265729ce6009908b98a7bd8b6f727bcf7f0e39b4c78e203d7c10"
	for _, s := range samples {
		appKey, _ := base64.StdEncoding.DecodeString(s.appKey)
		sek, err := DecryptSEK(appKey, s.sek)
		if err != nil {
			t.Fatal(err)
		}
		if hex.EncodeToString(sek) != want {
			t.Fatalf("sek %x, want %s", sek, want)
		}
		ct, _ := base64.StdEncoding.DecodeString(s.sek)
		block, _ := aes.NewCipher(appKey)
		last := make([]byte, 16)
		block.Decrypt(last, ct[32:])
		if !bytes.Equal(last, bytes.Repeat([]byte{16}, 16)) {
			t.Fatalf("padding block %x, want 16 x 0x10", last)
		}
	}
	// NIC's documented example SEK (docs.ewaybillgst.gov.in, authentication page) is
	// also 48 bytes: a 32-byte key plus one PKCS#7 block.
	ex, err := base64.StdEncoding.DecodeString("IaxLuJcsqILZuYQX828ITxXlrRUM1ebdEIaqEXnlaK+xK/U7ZuM5xAayg7RB7mWp")
	if err != nil || len(ex) != 48 {
		t.Fatalf("NIC example sek: %d bytes, %v", len(ex), err)
	}
}

func TestDecryptSEKErrors(t *testing.T) {
	appKey := bytes.Repeat([]byte{3}, KeySize)
	if _, err := DecryptSEK(appKey[:16], "AAAA"); code(err) != sdk.CodeInternal {
		t.Errorf("short app key: %v", err)
	}
	if _, err := DecryptSEK(appKey, "not base64!"); code(err) != sdk.CodePermanent {
		t.Errorf("bad base64: %v", err)
	}
	ct, _ := EncryptECB(appKey, []byte("sixteen byte key"))
	if _, err := DecryptSEK(appKey, base64.StdEncoding.EncodeToString(ct)); code(err) != sdk.CodePermanent || !strings.Contains(err.Error(), "16 bytes, want 32") {
		t.Errorf("short sek: %v", err)
	}
}

func testKey(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// The login envelope is PKCS#1 v1.5 (what NIC's Java samples call
// RSA/ECB/PKCS1Padding) over Base64(JSON): the private key opens it with
// DecryptPKCS1v15 and not with OAEP.
func TestEncryptLoginIsPKCS1v15OverBase64(t *testing.T) {
	priv := testKey(t)
	payload := []byte(`{"action":"ACCESSTOKEN","username":"u","password":"p","app_key":"` + strings.Repeat("A", 43) + `="}`)
	data, err := EncryptLogin(&priv.PublicKey, payload)
	if err != nil {
		t.Fatal(err)
	}
	ct, err := base64.StdEncoding.DecodeString(data)
	if err != nil || len(ct) != 256 {
		t.Fatalf("Data is not Base64 of one 2048-bit block: %d bytes, %v", len(ct), err)
	}
	pt, err := rsa.DecryptPKCS1v15(nil, priv, ct)
	if err != nil {
		t.Fatalf("PKCS#1 v1.5 decrypt: %v", err)
	}
	js, err := base64.StdEncoding.DecodeString(string(pt))
	if err != nil || !bytes.Equal(js, payload) {
		t.Fatalf("inner is not Base64 of the payload: %q %v", pt, err)
	}
	if _, err := rsa.DecryptOAEP(sha256.New(), nil, priv, ct, nil); err == nil {
		t.Fatal("envelope also opens as OAEP; want PKCS#1 v1.5 only")
	}
	// Two encryptions differ (random padding) but both open.
	data2, _ := EncryptLogin(&priv.PublicKey, payload)
	if data2 == data {
		t.Fatal("PKCS#1 v1.5 padding should be randomized")
	}
}

func TestEncryptLoginTooLong(t *testing.T) {
	priv := testKey(t)
	_, err := EncryptLogin(&priv.PublicKey, bytes.Repeat([]byte("a"), 200)) // 268 bytes after Base64 > 245
	e := sdk.AsError(err)
	if e == nil || e.Code != sdk.CodeInvalidRequest || !e.NotSent || !strings.Contains(e.Message, "245") {
		t.Fatalf("got %v", err)
	}
	if _, err := EncryptLogin(nil, []byte("{}")); code(err) != sdk.CodeInternal {
		t.Fatalf("nil key: %v", err)
	}
}

func TestParsePublicKey(t *testing.T) {
	priv := testKey(t)
	pkix, _ := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	pkcs1 := x509.MarshalPKCS1PublicKey(&priv.PublicKey)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix2("nic"), NotBefore: time.Unix(0, 0), NotAfter: time.Unix(1<<32, 0)}
	cert, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		t.Fatal(err)
	}
	inputs := map[string][]byte{
		"pem pkix":    pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pkix}),
		"pem pkcs1":   pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: pkcs1}),
		"certificate": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert}),
		"base64 der":  []byte(base64.StdEncoding.EncodeToString(pkix)[:40] + "\n" + base64.StdEncoding.EncodeToString(pkix)[40:] + "\n"),
	}
	for name, in := range inputs {
		pub, err := ParsePublicKey(in)
		if err != nil || !pub.Equal(&priv.PublicKey) {
			t.Errorf("%s: %v", name, err)
		}
	}
	for _, bad := range []string{"", "hello", "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"} {
		if _, err := ParsePublicKey([]byte(bad)); code(err) != sdk.CodeInvalidRequest {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func pkix2(cn string) pkix.Name { return pkix.Name{CommonName: cn} }

func TestSealOpenLayering(t *testing.T) {
	sek := bytes.Repeat([]byte{9}, KeySize)
	js := []byte(`{"docNo":"INV/1","itemList":[{"hsnCode":"1001"}]}`)

	ewb, err := Seal(sek, js, LayerBase64JSON)
	if err != nil {
		t.Fatal(err)
	}
	ct, _ := base64.StdEncoding.DecodeString(ewb)
	inner, _ := DecryptECB(sek, ct)
	if string(inner) != base64.StdEncoding.EncodeToString(js) {
		t.Fatalf("EWB layering: inner %q, want Base64(JSON)", inner)
	}
	irp, err := Seal(sek, js, LayerJSON)
	if err != nil {
		t.Fatal(err)
	}
	ct, _ = base64.StdEncoding.DecodeString(irp)
	inner, _ = DecryptECB(sek, ct)
	if !bytes.Equal(inner, js) {
		t.Fatalf("IRP layering: inner %q, want the JSON", inner)
	}
	for _, data := range []string{ewb, irp} {
		got, err := Open(sek, data)
		if err != nil || !bytes.Equal(got, js) {
			t.Fatalf("Open: %q %v", got, err)
		}
	}
	if _, err := Seal(sek, js, Layering(9)); code(err) != sdk.CodeInternal {
		t.Fatalf("unknown layering: %v", err)
	}
	if _, err := Open(sek, "%%%"); code(err) != sdk.CodePermanent {
		t.Fatalf("bad base64: %v", err)
	}
	junk, _ := EncryptECB(sek, []byte("not json, not base64!"))
	if _, err := Open(sek, base64.StdEncoding.EncodeToString(junk)); code(err) != sdk.CodePermanent {
		t.Fatalf("junk plaintext: %v", err)
	}
}

func TestOpenREK(t *testing.T) {
	sek := bytes.Repeat([]byte{1}, KeySize)
	rek := bytes.Repeat([]byte{2}, KeySize)
	js := []byte(`{"ewbNo":321000000001,"status":"ACT"}`)
	r, err := SealREK(sek, rek, js)
	if err != nil {
		t.Fatal(err)
	}
	got, err := OpenREK(sek, r)
	if err != nil || !bytes.Equal(got, js) {
		t.Fatalf("OpenREK: %q %v", got, err)
	}
	// The HMAC is over Base64(JSON), keyed with the REK (NIC's GET pages).
	mac, _ := base64.StdEncoding.DecodeString(r.HMAC)
	if len(mac) != 32 {
		t.Fatalf("hmac is %d bytes", len(mac))
	}

	flip := func(s string) string {
		b, _ := base64.StdEncoding.DecodeString(s)
		b[0] ^= 1
		return base64.StdEncoding.EncodeToString(b)
	}
	otherSEK := bytes.Repeat([]byte{5}, KeySize)
	otherRek, _ := SealREK(otherSEK, rek, js)
	otherData, _ := SealREK(sek, rek, []byte(`{"ewbNo":999}`))
	cases := map[string]struct {
		sek []byte
		r   RekResponse
		msg string
	}{
		"tampered hmac":    {sek, RekResponse{r.Data, r.Rek, flip(r.HMAC)}, "hmac does not match"},
		"missing hmac":     {sek, RekResponse{r.Data, r.Rek, ""}, "hmac is missing"},
		"swapped data":     {sek, RekResponse{otherData.Data, r.Rek, r.HMAC}, "hmac does not match"},
		"rek for other":    {sek, RekResponse{r.Data, otherRek.Rek, r.HMAC}, "rek"},
		"missing rek":      {sek, RekResponse{r.Data, "", r.HMAC}, "lacks data or rek"},
		"tampered data":    {sek, RekResponse{flip(r.Data), r.Rek, r.HMAC}, ""},
		"wrong sek length": {sek[:16], r, "want 32"},
	}
	for name, c := range cases {
		_, err := OpenREK(c.sek, c.r)
		if err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s: %v", name, err)
		}
		if strings.Contains(err.Error(), hex.EncodeToString(rek)) || strings.Contains(err.Error(), base64.StdEncoding.EncodeToString(sek)) {
			t.Errorf("%s: error leaks key material", name)
		}
	}
}

func TestClassifyCodes(t *testing.T) {
	cases := map[string]sdk.Code{
		"238": sdk.CodeAuthFailed, "106,": sdk.CodeAuthFailed, "108": sdk.CodeAuthFailed,
		"604": sdk.CodeConflict, "2150": sdk.CodeConflict, "240": sdk.CodeCarrierUnavailable,
		"325": sdk.CodeNotFound, "2148": sdk.CodeNotFound, "206,208,": sdk.CodeInvalidRequest, "": sdk.CodeCarrierUnavailable,
	}
	for codes, want := range cases {
		e := ClassifyCodes(codes, "")
		if e.Code != want || e.Source != sdk.SourceCarrier {
			t.Errorf("%q: %s/%s, want %s", codes, e.Code, e.Source, want)
		}
	}
	if !IsStaleSession(ClassifyCodes("238,", "")) || IsStaleSession(ClassifyCodes("108", "")) {
		t.Error("stale-session detection")
	}
	inner, _ := json.Marshal(map[string]string{"errorCodes": "702,238,"})
	raw, _ := json.Marshal(base64.StdEncoding.EncodeToString(inner))
	if c, _ := ewbErrorCodes(raw); c != "702,238," {
		t.Errorf("ewbErrorCodes = %q", c)
	}
	if c, _ := ewbErrorCodes(json.RawMessage(`{"errorCodes":"105"}`)); c != "105" {
		t.Errorf("object form = %q", c)
	}
	// A long plain-text error (here in Hindi, 3 bytes a letter) is cut on a
	// letter, never inside one.
	long, _ := json.Marshal(strings.Repeat("त्रुटि ", 40))
	if c, text := ewbErrorCodes(long); c != "" || len(text) > 200+len("…") || !utf8.ValidString(text) || !strings.HasSuffix(text, "…") {
		t.Errorf("long plain-text error: codes %q, text %q (valid UTF-8: %v)", c, text, utf8.ValidString(text))
	}
}
