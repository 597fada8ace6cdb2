/*
 * The lakehouse seed's bronze job, as the bench's peer of `sluice run`: Spark Structured Streaming
 * lands a Kafka topic of transactions, from its start, in a Delta table partitioned by event date.
 */
package sluice.bench;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.dayofmonth;
import static org.apache.spark.sql.functions.from_json;
import static org.apache.spark.sql.functions.month;
import static org.apache.spark.sql.functions.year;

import java.lang.management.ManagementFactory;
import java.time.Instant;

import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.streaming.StreamingQuery;
import org.apache.spark.sql.streaming.StreamingQueryProgress;
import org.apache.spark.sql.streaming.Trigger;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

/**
 * Usage: {@code SparkBronze <brokers> <topic> <table dir> <checkpoint dir>}
 *
 * <p>Reads every message of the topic once ({@code startingOffsets=earliest} and
 * {@code Trigger.AvailableNow}, so the query stops when it has caught up), parses the value with
 * {@code from_json} into the transaction schema, adds {@code year}, {@code month}, {@code day} of
 * {@code event_time} in UTC and appends to the Delta table. Like the seed, it keeps every message:
 * {@code from_json} is PERMISSIVE, so a value it cannot read becomes nulls (a row without
 * {@code event_time} lands in the {@code __HIVE_DEFAULT_PARTITION__} folders), and checks only
 * types, not values. The lineage columns are Sluice's, so both lakes can be checked the same way.
 *
 * <p>Prints one JSON line on stdout: {@code {"rows","batches","elapsedMs","startupMs"}}, where
 * {@code elapsedMs} runs from the first micro-batch's trigger to the query's end (its last Delta
 * commit) and {@code startupMs} from the JVM's start to that first trigger. Logs go to stderr.
 */
public final class SparkBronze {

  private static final StructType USER = new StructType()
      .add("id", DataTypes.StringType)
      .add("name", DataTypes.StringType)
      .add("email", DataTypes.StringType)
      .add("country", DataTypes.StringType)
      .add("city", DataTypes.StringType);

  private static final StructType PAYMENT_METHOD = new StructType()
      .add("id", DataTypes.StringType)
      .add("name", DataTypes.StringType)
      .add("category", DataTypes.StringType);

  // Money as Sluice's lake stores it: DECIMAL(18,2), exact.
  private static final StructType PRODUCT = new StructType()
      .add("id", DataTypes.StringType)
      .add("name", DataTypes.StringType)
      .add("category", DataTypes.StringType)
      .add("price", DataTypes.createDecimalType(18, 2));

  /** The message of README's lake section (src/domain/Transaction.ts). */
  private static final StructType TRANSACTION = new StructType()
      .add("transaction_id", DataTypes.StringType)
      .add("event_time", DataTypes.TimestampType)
      .add("transaction_type", DataTypes.StringType)
      .add("status", DataTypes.StringType)
      .add("amount", DataTypes.createDecimalType(18, 2))
      .add("currency", DataTypes.StringType)
      .add("user", USER)
      .add("payment_method", PAYMENT_METHOD)
      .add("product", PRODUCT)
      .add("quantity", DataTypes.IntegerType)
      .add("ip_address", DataTypes.StringType)
      .add("card_last4", DataTypes.StringType);

  public static void main(String[] args) throws Exception {
    if (args.length != 4) {
      System.err.println("usage: SparkBronze <brokers> <topic> <table dir> <checkpoint dir>");
      System.exit(2);
    }
    String brokers = args[0];
    String topic = args[1];
    String table = args[2];
    String checkpoint = args[3];

    SparkSession spark = SparkSession.builder()
        .appName("sluice-bench-spark-bronze")
        .master("local[2]")
        .config("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension")
        .config("spark.sql.catalog.spark_catalog", "org.apache.spark.sql.delta.catalog.DeltaCatalog")
        // year/month/day of event_time in UTC, as Sluice's partitions.
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .getOrCreate();

    Dataset<Row> transactions = spark.readStream()
        .format("kafka")
        .option("kafka.bootstrap.servers", brokers)
        .option("subscribe", topic)
        .option("startingOffsets", "earliest")
        .load()
        .select(
            from_json(col("value").cast("string"), TRANSACTION).alias("t"),
            col("partition").alias("_kafka_partition"),
            col("offset").alias("_kafka_offset"),
            col("timestamp").alias("_kafka_timestamp"))
        .select(col("t.*"), col("_kafka_partition"), col("_kafka_offset"), col("_kafka_timestamp"))
        .withColumn("year", year(col("event_time")))
        .withColumn("month", month(col("event_time")))
        .withColumn("day", dayofmonth(col("event_time")));

    StreamingQuery query = transactions.writeStream()
        .format("delta")
        .outputMode("append")
        .partitionBy("year", "month", "day")
        .option("checkpointLocation", checkpoint)
        .trigger(Trigger.AvailableNow())
        .start(table);
    query.awaitTermination();
    long endMs = System.currentTimeMillis();

    StreamingQueryProgress[] batches = query.recentProgress();
    if (batches.length == 0) throw new IllegalStateException("the query ran no micro-batch on " + topic);
    long firstTriggerMs = Instant.parse(batches[0].timestamp()).toEpochMilli();
    long rows = 0;
    for (StreamingQueryProgress batch : batches) rows += batch.numInputRows();
    long jvmStartMs = ManagementFactory.getRuntimeMXBean().getStartTime();
    spark.stop();
    System.out.printf("{\"rows\":%d,\"batches\":%d,\"elapsedMs\":%d,\"startupMs\":%d}%n",
        rows, batches.length, endMs - firstTriggerMs, firstTriggerMs - jvmStartMs);
  }
}
