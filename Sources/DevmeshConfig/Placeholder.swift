// Placeholder until the configuration model lands.
public enum DevmeshConfigModule {}
