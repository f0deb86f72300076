package snmp

import "testing"

func TestValueLoadFor(t *testing.T) {
	cases := []struct {
		name  string
		v     Value
		alias string
		want  int
		ok    bool
	}{
		{"integer applies to every alias", Value{Int: 50}, "a.example.org", 50, true},
		{"negative integer", Value{Int: -13}, "a.example.org", -13, true},
		{"exact match, not substring (D1)", Value{IsString: true, Str: "xa.cern.ch=5,a.cern.ch=7"}, "a.cern.ch", 7, true},
		{"dot is not a wildcard", Value{IsString: true, Str: "aXcern.ch=5"}, "a.cern.ch", 0, false},
		{"signed value", Value{IsString: true, Str: "a.cern.ch=5,b.cern.ch=-7"}, "b.cern.ch", -7, true},
		{"absent alias", Value{IsString: true, Str: "a.cern.ch=5"}, "b.cern.ch", 0, false},
		{"empty string", Value{IsString: true, Str: ""}, "a.cern.ch", 0, false},
		{"case and trailing dot ignored", Value{IsString: true, Str: "A.Cern.CH.=12"}, "a.cern.ch", 12, true},
		{"spaces tolerated", Value{IsString: true, Str: " a.cern.ch = 3 , b=4"}, "a.cern.ch", 3, true},
		{"garbage number skipped", Value{IsString: true, Str: "a.cern.ch=x1,a.cern.ch=9"}, "a.cern.ch", 9, true},
		{"only garbage", Value{IsString: true, Str: "a.cern.ch=,=,,==="}, "a.cern.ch", 0, false},
		{"first equals splits", Value{IsString: true, Str: "a=b=3"}, "a", 0, false},
	}
	for _, c := range cases {
		got, ok := c.v.LoadFor(c.alias)
		if got != c.want || ok != c.ok {
			t.Errorf("%s: LoadFor(%q) = %d,%v want %d,%v", c.name, c.alias, got, ok, c.want, c.ok)
		}
	}
}

func FuzzValueLoadFor(f *testing.F) {
	for _, s := range []string{"a=1", "xa.cern.ch=5,a.cern.ch=7", "", ",,,", "a=-1,b=2", "=\x00="} {
		f.Add(s, "a")
	}
	f.Fuzz(func(t *testing.T, s, alias string) {
		v := Value{IsString: true, Str: s}
		n, ok := v.LoadFor(alias)
		if !ok && n != 0 {
			t.Fatalf("not ok but value %d", n)
		}
	})
}
