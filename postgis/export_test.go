package postgis

// For the upgrade test: migrations read from a directory, applied as the
// binary applies its own.
var (
	MigrationsIn = migrationsIn
	MigrateWith  = migrate
)
