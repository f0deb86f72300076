package checks

// checkRegistry is the one place a check is registered: name → factory.
var checkRegistry = map[string]Factory{
	"nologin": newNologin,
}

// loadRegistry maps a load type to its factory.
var loadRegistry = map[string]Factory{
	"constant": newConstant,
}
